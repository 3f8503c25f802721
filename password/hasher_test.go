package password

import (
	"context"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testParams are the cheapest parameters Validate accepts in practice, so
// that tests exercise the real argon2id path in microseconds. Never use them
// outside tests.
func testParams() Params {
	return Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

func newTestHasher(tb testing.TB, p Params, maxConcurrent int) *Hasher {
	tb.Helper()
	h, err := NewHasher(p, maxConcurrent, 0)
	if err != nil {
		tb.Fatalf("NewHasher(%+v, %d): %v", p, maxConcurrent, err)
	}
	return h
}

func TestParamsValidate(t *testing.T) {
	with := func(f func(*Params)) Params {
		p := DefaultParams()
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		p       Params
		wantErr string // substring; "" means valid
	}{
		{"default", DefaultParams(), ""},
		{"test params", testParams(), ""},
		{"memory at floor", with(func(p *Params) { p.Memory = 8 }), ""},
		{"memory below floor", with(func(p *Params) { p.Memory = 7 }), "memory"},
		{"memory floor scales with lanes", with(func(p *Params) { p.Parallelism, p.Memory = 4, 31 }), "memory"},
		{"memory at 1 GiB", with(func(p *Params) { p.Memory = 1 << 20 }), ""},
		{"memory above 1 GiB", with(func(p *Params) { p.Memory = 1<<20 + 1 }), "memory"},
		{"memory max uint32", with(func(p *Params) { p.Memory = 1<<32 - 1 }), "memory"},
		{"iterations zero", with(func(p *Params) { p.Iterations = 0 }), "iterations"},
		{"iterations at max", with(func(p *Params) { p.Iterations = 10 }), ""},
		{"iterations above max", with(func(p *Params) { p.Iterations = 11 }), "iterations"},
		{"parallelism zero", with(func(p *Params) { p.Parallelism = 0 }), "parallelism"},
		{"parallelism at max", with(func(p *Params) { p.Parallelism = 16 }), ""},
		{"parallelism above max", with(func(p *Params) { p.Parallelism = 17 }), "parallelism"},
		{"salt too short", with(func(p *Params) { p.SaltLength = 15 }), "salt"},
		{"salt too long", with(func(p *Params) { p.SaltLength = 65 }), "salt"},
		{"salt at max", with(func(p *Params) { p.SaltLength = 64 }), ""},
		{"key too short", with(func(p *Params) { p.KeyLength = 15 }), "key"},
		{"key too long", with(func(p *Params) { p.KeyLength = 65 }), "key"},
		{"key at min", with(func(p *Params) { p.KeyLength = 16 }), ""},
		{"zero value", Params{}, "parallelism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", tt.p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate(%+v) = %v, want an error about %s", tt.p, err, tt.wantErr)
			}
			if _, err := NewHasher(tt.p, 1, 0); err == nil {
				t.Fatalf("NewHasher(%+v) succeeded, want the Validate error", tt.p)
			}
		})
	}
}

func TestDefaultParams(t *testing.T) {
	want := Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	if got := DefaultParams(); got != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", got, want)
	}
}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

func TestHashVerifyRoundTrip(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		p        Params
		password string
	}{
		{"ascii", testParams(), "correct horse battery staple"},
		{"empty", testParams(), ""},
		{"unicode", testParams(), "пароль-😀-密码"},
		{"nul byte", testParams(), "before\x00after"},
		{"long", testParams(), strings.Repeat("🔒", 128)},
		{"wide", Params{Memory: 256, Iterations: 3, Parallelism: 4, SaltLength: 64, KeyLength: 64}, "correct horse battery staple"},
		{"default params", DefaultParams(), "correct horse battery staple"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHasher(t, tt.p, 0)
			encoded, err := h.Hash(ctx, tt.password)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if !phcPattern.MatchString(encoded) {
				t.Fatalf("Hash = %q, not in PHC argon2id format", encoded)
			}
			stored, err := decodeHash(encoded)
			if err != nil {
				t.Fatalf("decodeHash(Hash()) = %v", err)
			}
			if stored.params != tt.p {
				t.Fatalf("Hash encoded params %+v, want %+v", stored.params, tt.p)
			}
			ok, needsRehash, err := h.Verify(ctx, encoded, tt.password)
			if err != nil || !ok || needsRehash {
				t.Fatalf("Verify(Hash(pw), pw) = %v, %v, %v; want true, false, nil", ok, needsRehash, err)
			}
			again, err := h.Hash(ctx, tt.password)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if again == encoded {
				t.Fatalf("two hashes of the same password are equal (%q): salt is not random", encoded)
			}
		})
	}
}

// TestVerifyKnownAnswer checks interoperability: the hashes were made by an
// independent implementation (the npm package hash-wasm 4.13.0), so a swap of
// m and t, a wrong base64 alphabet or a wrong argon2 variant fails here even
// though Hash and Verify would agree with each other.
func TestVerifyKnownAnswer(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		encoded, password string
	}{
		{"$argon2id$v=19$m=64,t=1,p=1$dGVzc2VyYS1zYWx0LTAwMQ$GLjglZ4YzRW2bD5xlpXiHiha154Qv5hlrvdTImax6SY", "correct horse battery staple"},
		{"$argon2id$v=19$m=256,t=3,p=2$c2l4dGVlbiBieXRlIHNsdA$7q0LQqcgYkzJAMX8OLGskA", "пароль-😀-密码"},
		{"$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZjAxMjM$Vqi/kSuYMrxQzJCcMEiZNuqzthimh9JcsGzZHM4JKbw", "Tr0ub4dor&3"},
	}
	h := newTestHasher(t, testParams(), 0)
	for _, tt := range tests {
		t.Run(tt.password, func(t *testing.T) {
			ok, _, err := h.Verify(ctx, tt.encoded, tt.password)
			if err != nil || !ok {
				t.Fatalf("Verify(%q) = %v, %v; want true, nil", tt.encoded, ok, err)
			}
			ok, _, err = h.Verify(ctx, tt.encoded, tt.password+"x")
			if err != nil || ok {
				t.Fatalf("Verify(%q) with a wrong password = %v, %v; want false, nil", tt.encoded, ok, err)
			}
		})
	}
}

func TestVerifyWrongPassword(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, testParams(), 0)
	const password = "correct horse battery staple"
	encoded, err := h.Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{
		"",
		"Correct horse battery staple",
		"correct horse battery staplf",
		"correct horse battery staple ",
		"correct horse battery stapl",
		" correct horse battery staple",
		"correct horse battery staple\x00",
	} {
		ok, needsRehash, err := h.Verify(ctx, encoded, wrong)
		if err != nil || ok || needsRehash {
			t.Errorf("Verify(hash, %q) = %v, %v, %v; want false, false, nil", wrong, ok, needsRehash, err)
		}
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	ctx := context.Background()
	const password = "correct horse battery staple"
	old := newTestHasher(t, testParams(), 0)
	encoded, err := old.Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Params)) Params {
		p := testParams()
		f(&p)
		return p
	}
	tests := []struct {
		name string
		p    Params
		want bool
	}{
		{"same params", testParams(), false},
		{"memory", with(func(p *Params) { p.Memory = 128 }), true},
		{"iterations", with(func(p *Params) { p.Iterations = 2 }), true},
		{"parallelism", with(func(p *Params) { p.Parallelism = 2 }), true},
		{"salt length", with(func(p *Params) { p.SaltLength = 32 }), true},
		{"key length", with(func(p *Params) { p.KeyLength = 64 }), true},
		{"default params", DefaultParams(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHasher(t, tt.p, 0)
			ok, needsRehash, err := h.Verify(ctx, encoded, password)
			if err != nil || !ok || needsRehash != tt.want {
				t.Fatalf("Verify = %v, %v, %v; want true, %v, nil", ok, needsRehash, err, tt.want)
			}
			// A caller that rehashes whenever needsRehash is set must never
			// store a hash of a password that did not match.
			ok, needsRehash, err = h.Verify(ctx, encoded, "wrong password")
			if err != nil || ok || needsRehash {
				t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, needsRehash, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "dGVzc2VyYS1zYWx0LTAwMQ"                      // 16 bytes
		key  = "GLjglZ4YzRW2bD5xlpXiHiha154Qv5hlrvdTImax6SY" // 32 bytes
		mtp  = "m=64,t=1,p=1"
	)
	valid := "$argon2id$v=19$" + mtp + "$" + salt + "$" + key
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	tests := []struct {
		name, encoded string
	}{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$" + mtp + "$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$" + mtp + "$" + salt + "$" + key},
		{"no leading dollar", valid[1:]},
		{"upper-case variant", "$ARGON2ID$v=19$" + mtp + "$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$" + mtp + "$" + salt + "$" + key},
		{"version 190", "$argon2id$v=190$" + mtp + "$" + salt + "$" + key},
		{"no version", "$argon2id$" + mtp + "$" + salt + "$" + key},
		{"m max uint32", with("m=4294967295,t=1,p=1")},
		{"m overflows uint32", with("m=4294967296,t=1,p=1")},
		{"m just above 1 GiB", with("m=1048577,t=1,p=1")},
		{"m below 8 KiB", with("m=7,t=1,p=1")},
		{"m below 8 KiB per lane", with("m=31,t=1,p=4")},
		{"m zero", with("m=0,t=1,p=1")},
		{"m negative", with("m=-64,t=1,p=1")},
		{"m with plus sign", with("m=+64,t=1,p=1")},
		{"m with leading zero", with("m=064,t=1,p=1")},
		{"m hex", with("m=0x40,t=1,p=1")},
		{"m empty", with("m=,t=1,p=1")},
		{"m with space", with("m=64 ,t=1,p=1")},
		{"t zero", with("m=64,t=0,p=1")},
		{"t above max", with("m=64,t=11,p=1")},
		{"t max uint32", with("m=64,t=4294967295,p=1")},
		{"p zero", with("m=64,t=1,p=0")},
		{"p above max", with("m=512,t=1,p=17")},
		{"p 255", with("m=4096,t=1,p=255")},
		{"p wraps to 1 as uint8", with("m=64,t=1,p=257")},
		{"params out of order", with("t=1,m=64,p=1")},
		{"param missing", with("m=64,t=1")},
		{"extra param", with("m=64,t=1,p=1,k=0")},
		{"no params", "$argon2id$v=19$" + salt + "$" + key},
		{"salt not base64", with(mtp)[:len("$argon2id$v=19$"+mtp+"$")] + "!!!!!!!!!!!!!!!!!!!!!!$" + key},
		{"salt url-safe alphabet", "$argon2id$v=19$" + mtp + "$dGVzc2VyYS1zYWx0LTAwM-_$" + key},
		{"salt padded", "$argon2id$v=19$" + mtp + "$" + salt + "==$" + key},
		{"salt too short", "$argon2id$v=19$" + mtp + "$c2hvcnQtc2FsdA$" + key},
		{"salt empty", "$argon2id$v=19$" + mtp + "$$" + key},
		{"salt too long", "$argon2id$v=19$" + mtp + "$" + strings.Repeat("A", 88) + "$" + key},
		{"key not base64", "$argon2id$v=19$" + mtp + "$" + salt + "$" + strings.Repeat("*", 43)},
		{"key non-canonical trailing bits", "$argon2id$v=19$" + mtp + "$" + salt + "$" + key[:len(key)-1] + "T"},
		{"key too short", "$argon2id$v=19$" + mtp + "$" + salt + "$" + key[:20]},
		{"key too long", "$argon2id$v=19$" + mtp + "$" + salt + "$" + strings.Repeat("A", 88)},
		{"key missing", "$argon2id$v=19$" + mtp + "$" + salt},
		{"trailing dollar", valid + "$"},
		{"extra field", valid + "$" + key},
		{"huge", valid + strings.Repeat("A", 1<<20)},
	}
	ctx := context.Background()
	h := newTestHasher(t, testParams(), 0)
	if ok, _, err := h.Verify(ctx, valid, "correct horse battery staple"); err != nil || !ok {
		t.Fatalf("the well-formed base of the cases does not verify: %v, %v", ok, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ok, needsRehash, err := h.Verify(ctx, tt.encoded, "correct horse battery staple")
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrMalformedHash) || ok || needsRehash {
				t.Fatalf("Verify(%.80q) = %v, %v, %v; want false, false, ErrMalformedHash", tt.encoded, ok, needsRehash, err)
			}
			// Rejecting must not do the work, which for the cases that name
			// a lot of memory would allocate at least 1 GiB.
			if n := after.TotalAlloc - before.TotalAlloc; n > 16<<10 {
				t.Fatalf("Verify allocated %d bytes rejecting a malformed hash", n)
			}
			if strings.Contains(err.Error(), salt) || strings.Contains(err.Error(), key) {
				t.Fatalf("error %q quotes the stored hash", err)
			}
		})
	}
}

func TestNewHasherConcurrency(t *testing.T) {
	for _, tt := range []struct{ in, want int }{
		{0, runtime.NumCPU()},
		{-3, runtime.NumCPU()},
		{1, 1},
		{7, 7},
	} {
		h := newTestHasher(t, testParams(), tt.in)
		if got := cap(h.slots); got != tt.want {
			t.Errorf("NewHasher(_, %d) has %d slots, want %d", tt.in, got, tt.want)
		}
	}
}

// hold takes h's only slot, as a hash in progress would, until the returned
// function is called.
func hold(t *testing.T, h *Hasher) (release func()) {
	t.Helper()
	select {
	case h.slots <- struct{}{}:
	default:
		t.Fatal("slot already taken")
	}
	return func() { <-h.slots }
}

func TestBusy(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	calls := []struct {
		name string
		call func(ctx context.Context, h *Hasher, encoded string) error
	}{
		{"Hash", func(ctx context.Context, h *Hasher, _ string) error {
			_, err := h.Hash(ctx, "correct horse battery staple")
			return err
		}},
		{"Verify", func(ctx context.Context, h *Hasher, encoded string) error {
			ok, needsRehash, err := h.Verify(ctx, encoded, "correct horse battery staple")
			if err != nil && (ok || needsRehash) {
				t.Errorf("Verify = %v, %v, %v; want false, false with an error", ok, needsRehash, err)
			}
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			h := newTestHasher(t, testParams(), 1)
			encoded, err := h.Hash(context.Background(), "correct horse battery staple")
			if err != nil {
				t.Fatal(err)
			}

			release := hold(t, h)
			if err := c.call(cancelled, h, encoded); !errors.Is(err, ErrBusy) || !errors.Is(err, context.Canceled) {
				t.Fatalf("with the slot held and ctx cancelled: %v; want ErrBusy wrapping context.Canceled", err)
			}

			// A deadline that passes while waiting, so the call really
			// waited on the held slot rather than failing up front.
			short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancelShort()
			start := time.Now()
			err = c.call(short, h, encoded)
			if !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("with the slot held until the deadline: %v; want ErrBusy wrapping context.DeadlineExceeded", err)
			}
			if waited := time.Since(start); waited < 15*time.Millisecond {
				t.Fatalf("gave up after %v, before the deadline", waited)
			}

			// A caller with time to spare waits for the slot and then runs.
			done := make(chan error, 1)
			go func() { done <- c.call(context.Background(), h, encoded) }()
			select {
			case err := <-done:
				t.Fatalf("ran while the only slot was held (err %v)", err)
			case <-time.After(50 * time.Millisecond):
			}
			release()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("after the slot was released: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("still waiting after the slot was released")
			}
			if n := len(h.slots); n != 0 {
				t.Fatalf("%d slots still held after all calls returned", n)
			}

			// A caller that has already gone gets no hash even when a
			// slot is free. Repeated because a select between a free slot
			// and a done context picks at random.
			for range 32 {
				if err := c.call(cancelled, h, encoded); !errors.Is(err, ErrBusy) {
					t.Fatalf("with a free slot and ctx cancelled: %v; want ErrBusy", err)
				}
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newTestHasher(t, testParams(), 1)

	// The dummy must cost what a real hash at the hasher's parameters costs.
	stored, err := decodeHash(h.dummy)
	if err != nil {
		t.Fatalf("dummy hash does not parse: %v", err)
	}
	if stored.params != h.Params() {
		t.Fatalf("dummy hash has params %+v, want the hasher's %+v", stored.params, h.Params())
	}
	if other := newTestHasher(t, testParams(), 1); other.dummy == h.dummy {
		t.Fatal("two hashers share a dummy hash")
	}

	for _, pw := range []string{"", "correct horse battery staple", "password"} {
		if h.VerifyDummy(context.Background(), pw) {
			t.Errorf("VerifyDummy(%q) = true", pw)
		}
	}

	// It must take a hashing slot like Verify, or a flood of unknown
	// usernames would both bypass the limit and answer faster.
	release := hold(t, h)
	done := make(chan bool, 1)
	go func() { done <- h.VerifyDummy(context.Background(), "correct horse battery staple") }()
	select {
	case <-done:
		t.Fatal("VerifyDummy ran while the only slot was held")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if <-done {
		t.Fatal("VerifyDummy = true")
	}
}
