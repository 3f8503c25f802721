package passkey_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/passkey"
	"github.com/tessera-auth/tessera/passkey/passkeytest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
	"github.com/tessera-auth/tessera/token"
)

const origin = "https://auth.example.test"

var ip = netip.MustParseAddr("192.0.2.7")

type fixture struct {
	*sqlitetest.Fixture
	svc    *passkey.Service
	events *eventtest.Recorder
}

func newFixture(t *testing.T, policy passkey.SignCountPolicy) *fixture {
	t.Helper()
	f := &fixture{Fixture: sqlitetest.NewFixture(t), events: &eventtest.Recorder{}}
	svc, err := passkey.New(f.Store, f.Store, passkey.Config{
		RPID: "auth.example.test", Origins: []string{origin}, SignCount: policy,
		Events: f.events, Now: f.Clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

func js(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register adds a credential of a's for the fixture's user.
func (f *fixture) register(t *testing.T, a *passkeytest.Authenticator, name string) store.WebAuthnCredential {
	t.Helper()
	opts, err := f.svc.BeginRegistration(t.Context(), f.User, name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.FinishRegistration(t.Context(), f.User, a.Create(t, js(t, opts)))
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return c
}

// other stores a second user, bob.
func (f *fixture) other(t *testing.T) store.User {
	t.Helper()
	u := store.User{ID: "u2", Username: "bob", PasswordHash: "x", CreatedAt: f.Clock.Now(), PasswordChangedAt: f.Clock.Now()}
	if err := f.Store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func mfaHash(s string) token.Hash { return token.Hash(sha256.Sum256([]byte(s))) }

func TestRegisterNoneAndPacked(t *testing.T) {
	f := newFixture(t, "")
	for _, att := range []string{"none", "packed"} {
		a := passkeytest.New(origin)
		a.Attestation = att
		c := f.register(t, a, "key "+att)
		if c.Name != "key "+att || c.AttestationFormat != att || c.SignCount != 0 || c.UserID != f.User.ID ||
			!slices.Equal(c.Transports, []string{"usb", "nfc"}) || c.AAGUID[0] != 0x7e || c.BackupEligible || !c.UserVerified {
			t.Fatalf("credential (%s) = %+v", att, c)
		}
	}
	l, err := f.svc.Credentials(t.Context(), f.User.ID)
	if err != nil || len(l) != 2 {
		t.Fatalf("Credentials = %d, %v", len(l), err)
	}
	if ok, _ := f.svc.Enrolled(t.Context(), f.User.ID); !ok {
		t.Fatal("not enrolled after registration")
	}
	if n := len(f.events.Of(event.FactorChanged)); n != 2 {
		t.Fatalf("%d factor_changed events", n)
	}
}

// A packed self-attestation whose signature is not over this
// registration is refused: the library verifies it.
func TestRegisterRefusals(t *testing.T) {
	f := newFixture(t, "")
	ctx := t.Context()
	begin := func() []byte {
		opts, err := f.svc.BeginRegistration(ctx, f.User, "k")
		if err != nil {
			t.Fatal(err)
		}
		return js(t, opts)
	}
	cases := []struct {
		name string
		mod  func(a *passkeytest.Authenticator)
		want error
	}{
		{"wrong origin", func(a *passkeytest.Authenticator) { a.Origin = "https://evil.example" }, passkey.ErrInvalid},
		{"wrong RP ID", func(a *passkeytest.Authenticator) { a.RPID = "evil.example" }, passkey.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := passkeytest.New(origin)
			c.mod(a)
			if _, err := f.svc.FinishRegistration(ctx, f.User, a.Create(t, begin())); !errors.Is(err, c.want) {
				t.Fatalf("FinishRegistration = %v, want %v", err, c.want)
			}
		})
	}
	t.Run("reused challenge", func(t *testing.T) {
		a := passkeytest.New(origin)
		resp := a.Create(t, begin())
		if _, err := f.svc.FinishRegistration(ctx, f.User, resp); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.FinishRegistration(ctx, f.User, resp); !errors.Is(err, passkey.ErrCeremony) {
			t.Fatalf("second finish = %v, want ErrCeremony", err)
		}
	})
	t.Run("expired ceremony", func(t *testing.T) {
		opts := begin()
		f.Clock.Add(5 * time.Minute)
		if _, err := f.svc.FinishRegistration(ctx, f.User, passkeytest.New(origin).Create(t, opts)); !errors.Is(err, passkey.ErrCeremony) {
			t.Fatalf("finish after 5m = %v, want ErrCeremony", err)
		}
	})
	t.Run("another user's ceremony", func(t *testing.T) {
		other := f.other(t)
		if _, err := f.svc.FinishRegistration(ctx, other, passkeytest.New(origin).Create(t, begin())); !errors.Is(err, passkey.ErrCeremony) {
			t.Fatalf("finish by another user = %v, want ErrCeremony", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		if _, err := f.svc.FinishRegistration(ctx, f.User, []byte(`{"id":1}`)); !errors.Is(err, passkey.ErrInvalid) {
			t.Fatalf("garbage = %v", err)
		}
	})
}

func TestSecondFactor(t *testing.T) {
	f := newFixture(t, "")
	ctx := t.Context()
	a := passkeytest.New(origin)
	a.UV = false // a plain security key: presence only
	f.register(t, a, "yubikey")
	mh := mfaHash("tsm_one")
	login := func(a *passkeytest.Authenticator, mh token.Hash) ([]byte, error) {
		opts, err := f.svc.BeginLogin(ctx, f.User.ID, mh)
		if err != nil {
			t.Fatal(err)
		}
		resp := a.Get(t, js(t, opts))
		_, err = f.svc.FinishLogin(ctx, f.User.ID, mh, resp, ip)
		return resp, err
	}
	opts, _ := f.svc.BeginLogin(ctx, f.User.ID, mh)
	resp := a.Get(t, js(t, opts))
	p, err := f.svc.FinishLogin(ctx, f.User.ID, mh, resp, ip)
	if err != nil || p.Method != mfa.WebAuthn || !slices.Equal(p.AMR, []string{"hwk"}) {
		t.Fatalf("FinishLogin = %+v, %v", p, err)
	}
	if amr, aal := mfa.Merge([]string{"pwd"}, p); aal != 3 || !slices.Equal(amr, []string{"pwd", "hwk", "mfa"}) {
		t.Fatalf("password + security key = %v AAL%d", amr, aal)
	}
	c, _ := f.Store.WebAuthnCredentialByID(ctx, a.Credentials()[0].ID)
	if c.SignCount != 1 || !c.LastUsedAt.Equal(f.Clock.Now()) {
		t.Fatalf("after use: %+v", c)
	}
	// Replayed assertion: its ceremony is spent.
	if _, err := f.svc.FinishLogin(ctx, f.User.ID, mh, resp, ip); !errors.Is(err, passkey.ErrCeremony) {
		t.Fatalf("replayed assertion = %v, want ErrCeremony", err)
	}
	// A ceremony of another mfa_token does not answer this one.
	opts, _ = f.svc.BeginLogin(ctx, f.User.ID, mfaHash("tsm_other"))
	if _, err := f.svc.FinishLogin(ctx, f.User.ID, mh, a.Get(t, js(t, opts)), ip); !errors.Is(err, passkey.ErrCeremony) {
		t.Fatalf("other mfa_token's ceremony = %v", err)
	}
	// Wrong challenge: signed over a challenge no ceremony issued.
	if _, err := f.svc.FinishLogin(ctx, f.User.ID, mh, a.Assert(t, a.Credentials()[0], "bm90LWEtY2hhbGxlbmdlLWF0LWFsbA"), ip); !errors.Is(err, passkey.ErrCeremony) {
		t.Fatalf("wrong challenge = %v", err)
	}
	// Wrong origin, wrong RP ID.
	a.Origin = "https://evil.example"
	if _, err := login(a, mh); !errors.Is(err, passkey.ErrInvalid) {
		t.Fatalf("wrong origin = %v", err)
	}
	a.Origin, a.RPID = origin, "evil.example"
	if _, err := login(a, mh); !errors.Is(err, passkey.ErrInvalid) {
		t.Fatalf("wrong RP ID = %v", err)
	}
	a.RPID = ""
	// Unknown credential: another authenticator's key, same RP.
	stranger := passkeytest.New(origin)
	strangerOpts, _ := f.svc.BeginRegistration(ctx, f.other(t), "x")
	stranger.Create(t, js(t, strangerOpts)) // never finished: unknown to the RP
	opts, _ = f.svc.BeginLogin(ctx, f.User.ID, mh)
	if _, err := f.svc.FinishLogin(ctx, f.User.ID, mh, stranger.Assert(t, stranger.Credentials()[0], passkeytest.Challenge(t, js(t, opts))), ip); !errors.Is(err, passkey.ErrUnknownCredential) {
		t.Fatalf("unknown credential = %v", err)
	}
	// The events name the refusals, never a secret.
	var reasons []string
	for _, e := range f.events.Of(event.MFAFailed) {
		reasons = append(reasons, e.Reason)
	}
	if !slices.Equal(reasons, []string{"ceremony", "ceremony", "ceremony", "assertion", "assertion", "unknown_credential"}) {
		t.Fatalf("mfa_failed reasons = %v", reasons)
	}
	// Still fine after all that.
	if _, err := login(a, mh); err != nil {
		t.Fatal(err)
	}
}

func TestSignCountRegression(t *testing.T) {
	for _, policy := range []passkey.SignCountPolicy{passkey.Refuse, passkey.Flag} {
		t.Run(string(policy), func(t *testing.T) {
			f := newFixture(t, policy)
			ctx := t.Context()
			a := passkeytest.New(origin)
			f.register(t, a, "k")
			mh := mfaHash("tsm_x")
			login := func() error {
				opts, _ := f.svc.BeginLogin(ctx, f.User.ID, mh)
				_, err := f.svc.FinishLogin(ctx, f.User.ID, mh, a.Get(t, js(t, opts)), ip)
				return err
			}
			for range 3 {
				if err := login(); err != nil {
					t.Fatal(err)
				}
			}
			// A clone carries on from an older counter.
			a.Credentials()[0].Counter = 1
			err := login()
			c, _ := f.Store.WebAuthnCredentialByID(ctx, a.Credentials()[0].ID)
			ev := f.events.Of(event.SignCountRegressed)
			if len(ev) != 1 || ev[0].UserID != f.User.ID || ev[0].IP != ip {
				t.Fatalf("sign_count_regressed events: %+v", ev)
			}
			if policy == passkey.Refuse {
				if !errors.Is(err, passkey.ErrSignCount) || c.SignCount != 3 || c.CloneWarning || ev[0].Reason != "refused" {
					t.Fatalf("refuse: %v, %+v, %s", err, c, ev[0].Reason)
				}
				return
			}
			if err != nil || c.SignCount != 3 || !c.CloneWarning || ev[0].Reason != "flagged" {
				t.Fatalf("flag: %v, %+v, %s", err, c, ev[0].Reason)
			}
		})
	}
}

func TestPasswordless(t *testing.T) {
	f := newFixture(t, "")
	ctx := t.Context()
	hw := passkeytest.New(origin)
	f.register(t, hw, "security key")
	synced := passkeytest.New(origin)
	synced.BackupEligible = true
	f.register(t, synced, "phone")

	for _, c := range []struct {
		a   *passkeytest.Authenticator
		amr []string
		aal int
	}{
		{hw, []string{"hwk", "user", "mfa"}, 3},
		{synced, []string{"swk", "user", "mfa"}, 2},
	} {
		opts, err := f.svc.BeginPasswordless(ctx, ip)
		if err != nil {
			t.Fatal(err)
		}
		o := js(t, opts)
		if !json.Valid(o) || string(o) == "" {
			t.Fatal(o)
		}
		u, p, err := f.svc.FinishPasswordless(ctx, c.a.Get(t, o), ip)
		if err != nil || u.ID != f.User.ID {
			t.Fatalf("FinishPasswordless = %v, %v", u.ID, err)
		}
		if amr, aal := mfa.Assess(p.AMR); !slices.Equal(amr, c.amr) || aal != c.aal {
			t.Fatalf("passwordless assurance %v AAL%d, want %v AAL%d", amr, aal, c.amr, c.aal)
		}
	}
	// Without user verification a passkey alone is refused.
	hw.UV = false
	opts, _ := f.svc.BeginPasswordless(ctx, ip)
	if _, _, err := f.svc.FinishPasswordless(ctx, hw.Get(t, js(t, opts)), ip); !errors.Is(err, passkey.ErrInvalid) {
		t.Fatalf("passwordless without UV = %v", err)
	}
	hw.UV = true
	// A second-factor ceremony does not answer a passwordless login.
	opts2, _ := f.svc.BeginLogin(ctx, f.User.ID, mfaHash("tsm_y"))
	if _, _, err := f.svc.FinishPasswordless(ctx, hw.Get(t, js(t, opts2)), ip); !errors.Is(err, passkey.ErrCeremony) {
		t.Fatalf("2fa ceremony used passwordless = %v", err)
	}
	// An unknown credential.
	stranger := passkeytest.New(origin)
	so, _ := f.svc.BeginRegistration(ctx, f.User, "never finished")
	stranger.Create(t, js(t, so))
	opts, _ = f.svc.BeginPasswordless(ctx, ip)
	if _, _, err := f.svc.FinishPasswordless(ctx, stranger.Get(t, js(t, opts)), ip); !errors.Is(err, passkey.ErrUnknownCredential) {
		t.Fatalf("unknown credential = %v", err)
	}
	// Removing a credential.
	if err := f.svc.Remove(ctx, f.User.ID, hw.Credentials()[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Remove(ctx, f.User.ID, hw.Credentials()[0].ID); !errors.Is(err, passkey.ErrNotFound) {
		t.Fatalf("second remove = %v", err)
	}
	opts, _ = f.svc.BeginPasswordless(ctx, ip)
	if _, _, err := f.svc.FinishPasswordless(ctx, hw.Get(t, js(t, opts)), ip); !errors.Is(err, passkey.ErrUnknownCredential) {
		t.Fatalf("removed credential = %v", err)
	}
}

// Unauthenticated begins store ceremonies: they are bounded per address.
func TestPasswordlessBeginThrottled(t *testing.T) {
	f := newFixture(t, "")
	for range 30 {
		if _, err := f.svc.BeginPasswordless(t.Context(), ip); err != nil {
			t.Fatal(err)
		}
	}
	var te *mfa.ThrottledError
	if _, err := f.svc.BeginPasswordless(t.Context(), ip); !errors.As(err, &te) || te.RetryAfter != 2*time.Second {
		t.Fatalf("31st begin: %v", err)
	}
	if _, err := f.svc.BeginPasswordless(t.Context(), netip.MustParseAddr("198.51.100.1")); err != nil {
		t.Fatalf("another address: %v", err)
	}
	f.Clock.Add(2 * time.Second)
	if _, err := f.svc.BeginPasswordless(t.Context(), ip); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
}

func TestConfig(t *testing.T) {
	st := sqlitetest.Open(t)
	for _, c := range []passkey.Config{
		{RPID: "example.com"},
		{RPID: "example.com", Origins: []string{"example.com"}},
		{RPID: "example.com", Origins: []string{"https://example.com"}, SignCount: "ignore"},
	} {
		if _, err := passkey.New(st, st, c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}
