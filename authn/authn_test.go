package authn

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// countingHasher counts the argon2 work each path does.
type countingHasher struct {
	*password.Hasher
	verifies, dummies atomic.Int64
}

func (c *countingHasher) Verify(ctx context.Context, enc, pw string) (bool, bool, error) {
	c.verifies.Add(1)
	return c.Hasher.Verify(ctx, enc, pw)
}

func (c *countingHasher) VerifyDummy(ctx context.Context, pw string) bool {
	c.dummies.Add(1)
	return c.Hasher.VerifyDummy(ctx, pw)
}

var cheap = password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newAuth(t *testing.T, p password.Params) (*Authenticator, *countingHasher, *sqlite.Store, *time.Time) {
	t.Helper()
	st := sqlitetest.Open(t)
	h, err := password.NewHasher(p, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	ch := &countingHasher{Hasher: h}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := New(st, ch, password.DefaultPolicy(), Limits{
		PerIPBurst: 100, PerIPRefill: time.Second,
		PerAccountIPBurst: 3, PerAccountIPRefill: time.Minute,
		PerAccountBurst: 100, PerAccountRefill: time.Second,
	}, func() time.Time { return now }, nil, nil)
	return a, ch, st, &now
}

const pw = "correct horse battery staple"

var ip = netip.MustParseAddr("192.0.2.10")

func TestNormalizeUsername(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Alice", "alice"},
		{"  bob@example.com ", "bob@example.com"},
		{"a.b_c+d-e", "a.b_c+d-e"},
		{"", ""},
		{"has space", ""},
		{"ålice", ""},
		{"admin\x00", ""},
		{string(make([]byte, 65)), ""},
	}
	for _, tt := range tests {
		got, err := NormalizeUsername(tt.in)
		if got != tt.want || (tt.want == "") != errors.Is(err, ErrInvalidUsername) {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestLoginCostsTheSameForUnknownUsers(t *testing.T) {
	a, h, _, _ := newAuth(t, cheap)
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(ctx, "alice", "wrong password", ip); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := a.Login(ctx, "nobody", "wrong password", ip); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := a.Login(ctx, "not valid!", "wrong password", ip); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("invalid username: %v", err)
	}
	// One real verify for the known user, one dummy for each of the others.
	if h.verifies.Load() != 1 || h.dummies.Load() != 2 {
		t.Fatalf("verifies=%d dummies=%d; every failed login must cost one hash", h.verifies.Load(), h.dummies.Load())
	}
	u, err := a.Login(ctx, "ALICE", pw, ip)
	if err != nil || u.Username != "alice" {
		t.Fatalf("login: %+v %v", u, err)
	}
}

func TestThrottleCountsOnlyFailures(t *testing.T) {
	a, h, _, now := newAuth(t, cheap)
	ctx := context.Background()
	a.CreateUser(ctx, "alice", pw)
	for range 10 {
		if _, err := a.Login(ctx, "alice", pw, ip); err != nil {
			t.Fatalf("successful logins must not throttle: %v", err)
		}
	}
	for range 3 {
		a.Login(ctx, "alice", "wrong password", ip)
	}
	before := h.verifies.Load()
	_, err := a.Login(ctx, "alice", pw, ip)
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != time.Minute {
		t.Fatalf("after 3 failures: %v", err)
	}
	if h.verifies.Load() != before {
		t.Fatal("a throttled login still hashed")
	}
	// The same throttle applies to an unknown name, so it reveals nothing.
	for range 3 {
		a.Login(ctx, "ghost", "wrong password", ip)
	}
	if _, err := a.Login(ctx, "ghost", "x", ip); !errors.As(err, &te) {
		t.Fatalf("unknown user not throttled alike: %v", err)
	}
	*now = now.Add(time.Minute)
	if _, err := a.Login(ctx, "alice", pw, ip); err != nil {
		t.Fatalf("throttle did not end: %v", err)
	}
}

func TestRehashOnLogin(t *testing.T) {
	a, _, st, _ := newAuth(t, cheap)
	ctx := context.Background()
	u, _ := a.CreateUser(ctx, "alice", pw)
	stronger := cheap
	stronger.Memory = 128
	h2, _ := password.NewHasher(stronger, 1, 0)
	a.hasher = h2
	if _, err := a.Login(ctx, "alice", pw, ip); err != nil {
		t.Fatal(err)
	}
	got, _ := st.UserByID(ctx, u.ID)
	if got.PasswordHash == u.PasswordHash {
		t.Fatal("hash made with old parameters was not upgraded")
	}
	if _, err := a.Login(ctx, "alice", pw, ip); err != nil {
		t.Fatalf("login after rehash: %v", err)
	}
}

func TestCreateAndChangePassword(t *testing.T) {
	a, _, _, _ := newAuth(t, cheap)
	ctx := context.Background()
	var pe *password.PolicyError
	if _, err := a.CreateUser(ctx, "alice", "short"); !errors.As(err, &pe) {
		t.Fatalf("weak password: %v", err)
	}
	u, err := a.CreateUser(ctx, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateUser(ctx, "Alice", pw); !errors.Is(err, ErrUsernameTaken) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := a.ChangePassword(ctx, u.ID, "wrong password", "new passphrase ok", ip); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong current: %v", err)
	}
	if err := a.ChangePassword(ctx, u.ID, pw, "password1", ip); !errors.As(err, &pe) {
		t.Fatalf("common new password: %v", err)
	}
	if err := a.ChangePassword(ctx, u.ID, pw, "new passphrase ok", ip); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(ctx, "alice", pw, ip); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatal("old password still works")
	}
	if _, err := a.Login(ctx, "alice", "new passphrase ok", ip); err != nil {
		t.Fatal(err)
	}
	if err := a.ChangePassword(ctx, "nope", pw, pw, ip); !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

// TestDistributedAttackCannotLockOutKnownClient reproduces a slow attack
// from many addresses that keeps the account-wide bucket empty: the user,
// from an address they logged in from before, still gets in; a new address
// is throttled until the bucket refills.
func TestDistributedAttackCannotLockOutKnownClient(t *testing.T) {
	st := sqlitetest.Open(t)
	h, _ := password.NewHasher(cheap, 2, 0)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := New(st, h, password.DefaultPolicy(), Limits{
		PerIPBurst: 20, PerIPRefill: 6 * time.Second, PerAccountIPBurst: 5, PerAccountIPRefill: time.Minute,
		PerAccountBurst: 50, PerAccountRefill: 30 * time.Second,
	}, func() time.Time { return now }, nil, nil)
	ctx := context.Background()
	a.CreateUser(ctx, "alice", pw)
	home := netip.MustParseAddr("192.0.2.77")
	if _, err := a.Login(ctx, "alice", pw, home); err != nil {
		t.Fatal(err)
	}
	attacker := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, byte(i / 256), byte(i % 256)}) }
	n := 0
	for range 10 * 5 { // empty the account-wide bucket
		a.Login(ctx, "alice", "guess guess", attacker(n/5))
		n++
	}
	for minute := range 60 {
		now = now.Add(time.Minute)
		for range 2 { // and keep it empty
			a.Login(ctx, "alice", "guess guess", attacker(1000+n/5))
			n++
		}
		if _, err := a.Login(ctx, "alice", pw, home); err != nil {
			t.Fatalf("minute %d: the user was locked out from their usual address: %v", minute, err)
		}
	}
	var te *ThrottledError
	if _, err := a.Login(ctx, "alice", pw, netip.MustParseAddr("203.0.113.5")); !errors.As(err, &te) {
		t.Fatalf("a never-seen address during the attack: %v, want throttled", err)
	}
}
