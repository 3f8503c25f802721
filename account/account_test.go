package account_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/account"
	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/keys/keystest"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

const pw = "correct horse battery staple"

var use = session.Use{IP: netip.MustParseAddr("192.0.2.7"), UserAgent: "test/1"}

type fixture struct {
	st       *sqlite.Store
	now      time.Time
	sessions *session.Manager // this node
	other    *session.Manager // another node on the same store
	an       *authn.Authenticator
	flows    *authflow.Flows
	oauth    *oauth.Service
	spa      store.Client
	acct     *account.Service
	user     store.User
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: sqlitetest.Open(t), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	scfg := session.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 12 * time.Hour, TouchInterval: time.Minute, CacheSize: 100, Now: clock}
	f.sessions, f.other = session.New(f.st, scfg), session.New(f.st, scfg)
	for _, m := range []*session.Manager{f.sessions, f.other} {
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.an = authn.New(f.st, h, password.DefaultPolicy(), authn.Limits{
		PerIPBurst: 100, PerIPRefill: time.Hour, PerAccountIPBurst: 100, PerAccountIPRefill: time.Hour, PerAccountBurst: 3, PerAccountRefill: time.Hour,
	}, clock, nil, nil)
	if f.user, err = f.an.CreateUser(ctx, "ann", pw); err != nil {
		t.Fatal(err)
	}
	ks := keystest.New(t, f.st, keys.Config{RetiredTTL: time.Hour})
	f.oauth = oauth.New(f.st, ks, oauth.Config{Issuer: "https://i", Audience: "https://i", Access: time.Minute, Refresh: time.Hour, Pepper: []byte("p"), Now: clock})
	if f.spa, _, err = f.oauth.RegisterClient(ctx, oauth.ClientSpec{Name: "spa", Public: true, Grants: []string{oauth.GrantRefreshToken}, TokenFormat: oauth.FormatOpaque, FirstParty: true}); err != nil {
		t.Fatal(err)
	}
	f.flows = authflow.New(f.an, f.sessions, f.st, f.oauth, authflow.Config{TokenIdle: time.Hour, TokenAbsolute: 12 * time.Hour, Now: clock})
	f.acct = account.New(f.st, f.sessions, f.an, clock)
	return f
}

func (f *fixture) login(t *testing.T, l authflow.Login) (authflow.Result, error) {
	t.Helper()
	if l.Username == "" {
		l.Username = "ann"
	}
	if l.Password == "" {
		l.Password = pw
	}
	if l.Delivery == "" {
		l.Delivery = authflow.Cookie
	}
	return f.flows.Login(context.Background(), l, use)
}

// TestDisable: a disabled user loses every session at once, on this node
// and (through the feed) on another, cannot log in or refresh, and can
// again once enabled.
func TestDisable(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	cookie, err := f.login(t, authflow.Login{})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := f.login(t, authflow.Login{Delivery: authflow.Token, ClientID: f.spa.ID})
	if err != nil {
		t.Fatal(err)
	}
	raw := cookie.SessionToken.Reveal()
	if _, err := f.other.Validate(ctx, raw, use); err != nil { // warm the other node's cache
		t.Fatal(err)
	}
	res, err := f.acct.Disable(ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Revoked != 2 || res.User.DisabledAt.IsZero() {
		t.Fatalf("Disable = %+v", res)
	}
	if _, err := f.sessions.Validate(ctx, raw, use); !errors.Is(err, session.ErrRevoked) {
		t.Fatalf("this node after disable: %v, want ErrRevoked", err)
	}
	if err := f.other.Follow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.other.Validate(ctx, raw, use); !errors.Is(err, session.ErrRevoked) {
		t.Fatalf("other node after reading the feed: %v, want ErrRevoked", err)
	}
	if _, err := f.oauth.Refresh(ctx, f.spa, tokens.Tokens.RefreshToken, ""); err == nil {
		t.Fatal("refresh after disable succeeded")
	}
	if _, err := f.login(t, authflow.Login{}); !errors.Is(err, authn.ErrAccountDisabled) {
		t.Fatalf("login while disabled: %v, want ErrAccountDisabled", err)
	}
	if _, err := f.login(t, authflow.Login{Password: "wrong password entirely"}); !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("wrong password while disabled: %v, want ErrInvalidCredentials (no state leaked)", err)
	}
	if _, err := f.acct.Enable(ctx, f.user.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login(t, authflow.Login{}); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
	if _, err := f.acct.Disable(ctx, "nope"); !errors.Is(err, account.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

// TestResetPassword: a reset ends every session; with must-change the
// login is refused with ErrPasswordChangeRequired until it brings a new
// password, which then replaces the reset one.
func TestResetPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	old, err := f.login(t, authflow.Login{})
	if err != nil {
		t.Fatal(err)
	}
	const reset, mine = "temporary reset passphrase", "my own new passphrase"
	if _, err := f.acct.ResetPassword(ctx, f.user.ID, "short", false); !errors.As(err, new(*password.PolicyError)) {
		t.Fatalf("weak reset password: %v", err)
	}
	res, err := f.acct.ResetPassword(ctx, f.user.ID, reset, true)
	if err != nil || res.Revoked != 1 {
		t.Fatalf("ResetPassword = %+v, %v", res, err)
	}
	if _, err := f.sessions.Validate(ctx, old.SessionToken.Reveal(), use); !errors.Is(err, session.ErrRevoked) {
		t.Fatalf("session after reset: %v", err)
	}
	if _, err := f.login(t, authflow.Login{}); !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("old password after reset: %v", err)
	}
	if _, err := f.login(t, authflow.Login{Password: reset}); !errors.Is(err, authn.ErrPasswordChangeRequired) {
		t.Fatalf("login with the reset password: %v, want ErrPasswordChangeRequired", err)
	}
	if _, err := f.login(t, authflow.Login{Password: reset, NewPassword: mine}); err != nil {
		t.Fatalf("login with a new password: %v", err)
	}
	if _, err := f.login(t, authflow.Login{Password: mine}); err != nil {
		t.Fatalf("login with the changed password: %v", err)
	}
	if _, err := f.login(t, authflow.Login{Password: reset}); !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("reset password after the change: %v", err)
	}
}

// TestDelete: everything revoked, the name and hash gone, the id kept.
func TestDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tokens, err := f.login(t, authflow.Login{Delivery: authflow.Token, ClientID: f.spa.ID})
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.acct.Delete(ctx, f.user.ID)
	if err != nil || res.Revoked != 1 {
		t.Fatalf("Delete = %+v, %v", res, err)
	}
	u, err := f.acct.Get(ctx, f.user.ID)
	if err != nil || u.Username == "ann" || u.PasswordHash != "" || u.DeletedAt.IsZero() {
		t.Fatalf("after delete: %+v, %v", u, err)
	}
	if _, err := f.oauth.Refresh(ctx, f.spa, tokens.Tokens.RefreshToken, ""); err == nil {
		t.Fatal("refresh after delete succeeded")
	}
	if _, err := f.login(t, authflow.Login{}); !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("login after delete: %v", err)
	}
	if _, err := f.acct.Enable(ctx, f.user.ID); !errors.Is(err, account.ErrDeleted) {
		t.Fatalf("enable after delete: %v, want ErrDeleted", err)
	}
	p, err := f.acct.List(ctx, account.Query{})
	if err != nil || len(p.Users) != 0 {
		t.Fatalf("list after delete: %+v, %v", p, err)
	}
}

// TestClearThrottles: an account throttled by failures logs in at once
// after an administrator clears its throttles.
func TestClearThrottles(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for range 3 {
		f.login(t, authflow.Login{Password: "wrong password entirely"})
	}
	var te *authn.ThrottledError
	if _, err := f.login(t, authflow.Login{}); !errors.As(err, &te) {
		t.Fatalf("login after failures: %v, want throttled", err)
	}
	if _, err := f.acct.ClearThrottles(ctx, f.user.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.login(t, authflow.Login{}); err != nil {
		t.Fatalf("login after clearing: %v", err)
	}
}

// TestListPages: the cursor walks every user once.
func TestListPages(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, n := range []string{"bo", "cy", "di"} {
		if _, err := f.an.CreateUser(ctx, n, pw); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	cursor := ""
	for i := 0; ; i++ {
		p, err := f.acct.List(ctx, account.Query{Cursor: cursor, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range p.Users {
			seen = append(seen, u.Username)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
		if i > 3 {
			t.Fatal("cursor does not advance")
		}
	}
	if len(seen) != 4 || seen[0] != "ann" || seen[3] != "di" {
		t.Fatalf("pages = %v", seen)
	}
}

// updates records the store updates the service asks for.
type updates struct {
	account.Store
	got []store.UserUpdate
}

func (u *updates) UpdateUser(ctx context.Context, id string, up store.UserUpdate) (store.User, []string, error) {
	u.got = append(u.got, up)
	return u.Store.UpdateUser(ctx, id, up)
}

// TestUpdateIsOneDecision: a password and a disabling are one store
// update (one transaction), ending the sessions once, as a disabling; a
// change of nothing is refused before the store.
func TestUpdateIsOneDecision(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := &updates{Store: f.st}
	acct := account.New(rec, f.sessions, f.an, func() time.Time { return f.now })
	if _, err := f.login(t, authflow.Login{}); err != nil {
		t.Fatal(err)
	}
	const reset = "a new long passphrase"
	res, err := acct.Update(ctx, f.user.ID, account.Change{Disabled: new(true), Password: new(reset), MustChangePassword: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.got) != 1 {
		t.Fatalf("%d store updates, want 1", len(rec.got))
	}
	up := rec.got[0]
	if !up.Disable || up.PasswordHash == "" || !up.MustChangePassword || up.RevokeReason != account.ReasonDisabled {
		t.Fatalf("update = %+v", up)
	}
	if res.Revoked != 1 || res.User.DisabledAt.IsZero() || !res.User.MustChangePassword {
		t.Fatalf("Update = %+v", res)
	}
	if _, err := acct.Update(ctx, f.user.ID, account.Change{}); !errors.Is(err, account.ErrNoChange) || len(rec.got) != 1 {
		t.Fatalf("empty change: %v after %d updates", err, len(rec.got))
	}
	if _, err := acct.Update(ctx, f.user.ID, account.Change{Disabled: new(false), Password: new("short")}); !errors.As(err, new(*password.PolicyError)) || len(rec.got) != 1 {
		t.Fatalf("a refused password with an enabling: %v after %d updates", err, len(rec.got))
	}
}
