package authflow_test

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/keys/keystest"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
)

const (
	pw         = "correct horse battery staple"
	idle       = 30 * time.Minute // browser sessions
	absolute   = 12 * time.Hour
	tokenIdle  = 7 * 24 * time.Hour // sessions behind refresh tokens
	tokenAbsol = 30 * 24 * time.Hour
)

type fixture struct {
	st         *sqlite.Store
	now        time.Time
	sessions   *session.Manager
	oauth      *oauth.Service
	an         *authn.Authenticator
	flows      *authflow.Flows // with token delivery
	cookieOnly *authflow.Flows // without an issuer
	user       store.User
	spa        store.Client // public, refresh_token, first party
	third      store.Client // public, refresh_token, third party
	conf       store.Client // confidential
	noRefresh  store.Client // public, without the refresh_token grant
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	f.sessions = session.New(st, session.Config{IdleTimeout: idle, AbsoluteTimeout: absolute, TouchInterval: time.Minute, CacheSize: 100, Now: clock})
	if err := f.sessions.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	an := authn.New(st, h, password.DefaultPolicy(), authn.Limits{
		PerIPBurst: 100, PerIPRefill: time.Second, PerAccountIPBurst: 100, PerAccountIPRefill: time.Second, PerAccountBurst: 100, PerAccountRefill: time.Second,
	}, clock, nil, nil)
	f.an = an
	if f.user, err = an.CreateUser(ctx, "ann", pw); err != nil {
		t.Fatal(err)
	}
	ks := keystest.New(t, st, keys.Config{RetiredTTL: time.Hour})
	f.oauth = oauth.New(st, ks, oauth.Config{Issuer: "https://i", Audience: "https://i", Access: time.Minute, Refresh: time.Hour, Pepper: []byte("p"), Now: clock})
	if f.spa, _, err = f.oauth.RegisterClient(ctx, oauth.ClientSpec{Name: "spa", Public: true, Grants: []string{oauth.GrantRefreshToken}, Scopes: []string{"read", "write"}, TokenFormat: oauth.FormatOpaque, FirstParty: true}); err != nil {
		t.Fatal(err)
	}
	if f.third, _, err = f.oauth.RegisterClient(ctx, oauth.ClientSpec{Name: "third", Public: true, Grants: []string{oauth.GrantRefreshToken}}); err != nil {
		t.Fatal(err)
	}
	if f.conf, _, err = f.oauth.RegisterClient(ctx, oauth.ClientSpec{Name: "conf", Grants: []string{oauth.GrantRefreshToken}}); err != nil {
		t.Fatal(err)
	}
	// oauth.RegisterClient no longer makes such a client; a store may
	// still hold one (registered by an older version, or edited).
	f.noRefresh = store.Client{ID: "no-refresh", Name: "no-refresh", Grants: []string{oauth.GrantClientCredentials}, TokenFormat: oauth.FormatJWT, CreatedAt: f.now}
	if err := st.CreateClient(ctx, f.noRefresh); err != nil {
		t.Fatal(err)
	}
	f.flows = authflow.New(an, f.sessions, st, f.oauth, authflow.Config{TokenIdle: tokenIdle, TokenAbsolute: tokenAbsol})
	f.cookieOnly = authflow.New(an, f.sessions, st, nil, authflow.Config{TokenIdle: tokenIdle, TokenAbsolute: tokenAbsol})
	return f
}

var use = session.Use{IP: netip.MustParseAddr("192.0.2.7"), UserAgent: "test/1"}

func TestLogin(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cookieOly bool
		req       func(*fixture) authflow.Login
		wantErr   error
		want      authflow.Delivery
		wantScope string // token delivery
	}{
		{"cookie", false, func(*fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}
		}, nil, authflow.Cookie, ""},
		{"cookie ignores a client", false, func(f *fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie, ClientID: f.conf.ID}
		}, nil, authflow.Cookie, ""},
		{"token, first party", false, func(*fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token}
		}, nil, authflow.Token, ""},
		{"token for a public client", false, func(f *fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.spa.ID}
		}, nil, authflow.Token, "read write"},
		{"token for a confidential client", false, func(f *fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.conf.ID}
		}, authflow.ErrInvalidClient, "", ""},
		{"token for a public client without refresh_token", false, func(f *fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.noRefresh.ID}
		}, authflow.ErrInvalidClient, "", ""},
		// RFC 9700 §2.4: a third-party client gets no password grant,
		// and not even the answer to whether the password was right.
		{"token for a third-party public client", false, func(f *fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.third.ID}
		}, authflow.ErrUnauthorizedClient, "", ""},
		{"third-party client, wrong password", false, func(f *fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: "wrong", Delivery: authflow.Token, ClientID: f.third.ID}
		}, authflow.ErrUnauthorizedClient, "", ""},
		{"token for an unknown client", false, func(*fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: "nope"}
		}, authflow.ErrInvalidClient, "", ""},
		{"wrong password", false, func(*fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: "wrong", Delivery: authflow.Cookie}
		}, authn.ErrInvalidCredentials, "", ""},
		{"unknown user", false, func(*fixture) authflow.Login {
			return authflow.Login{Username: "bob", Password: pw, Delivery: authflow.Token}
		}, authn.ErrInvalidCredentials, "", ""},
		{"token without an issuer", true, func(*fixture) authflow.Login {
			return authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token}
		}, authflow.ErrNoTokenDelivery, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			flows := f.flows
			if tc.cookieOly {
				flows = f.cookieOnly
			}
			res, err := flows.Login(ctx, tc.req(f), use)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("Login: %v, want %v", err, tc.wantErr)
			}
			live, _ := f.sessions.List(ctx, f.user.ID)
			if err != nil {
				if len(live) != 0 || res.Session.ID != "" || res.Tokens != (oauth.Tokens{}) || res.SessionToken.Reveal() != "" {
					t.Fatalf("a failed login left %d sessions and result %+v", len(live), res)
				}
				return
			}
			if len(live) != 1 || live[0].ID != res.Session.ID || live[0].IP != "192.0.2.7" || live[0].UserAgent != "test/1" {
				t.Fatalf("sessions: %+v", live)
			}
			if res.Delivery != tc.want || res.Session.UserID != f.user.ID || len(res.Session.AMR) != 1 || res.Session.AMR[0] != "pwd" || res.Session.AAL != 1 {
				t.Fatalf("result: %+v", res)
			}
			checkDelivery(t, f, res, tc.wantScope)
		})
	}
}

// checkDelivery checks what delivers res and the session's lifetimes,
// which depend on it.
func checkDelivery(t *testing.T, f *fixture, res authflow.Result, wantScope string) {
	t.Helper()
	ctx := context.Background()
	switch res.Delivery {
	case authflow.Cookie:
		raw := res.SessionToken.Reveal()
		if _, err := f.sessions.Validate(ctx, raw, session.Use{}); err != nil {
			t.Fatalf("the delivered session token: %v", err)
		}
		if res.CSRFToken == "" || !session.CheckCSRF(raw, res.CSRFToken) || res.Tokens != (oauth.Tokens{}) {
			t.Fatalf("cookie delivery: %+v", res)
		}
		if !res.Session.ExpiresAt.Equal(f.now.Add(absolute)) || !res.Session.IdleExpiresAt.Equal(f.now.Add(idle)) {
			t.Fatalf("browser session lifetimes: expires %v, idle %v", res.Session.ExpiresAt, res.Session.IdleExpiresAt)
		}
	case authflow.Token:
		if res.SessionToken.Reveal() != "" || res.CSRFToken != "" {
			t.Fatal("token delivery hands out the session token")
		}
		if res.Tokens.AccessToken == "" || res.Tokens.RefreshToken == "" || res.Tokens.Scope != wantScope {
			t.Fatalf("tokens: %+v", res.Tokens)
		}
		if !res.Session.ExpiresAt.Equal(f.now.Add(tokenAbsol)) || !res.Session.IdleExpiresAt.Equal(f.now.Add(tokenIdle)) {
			t.Fatalf("token session lifetimes: expires %v, idle %v", res.Session.ExpiresAt, res.Session.IdleExpiresAt)
		}
	default:
		t.Fatalf("delivery %q", res.Delivery)
	}
}

func TestChangePassword(t *testing.T) {
	const next = "a much longer new passphrase"
	for _, tc := range []struct {
		name       string
		cookieOnly bool
		current    string
		next       string
		delivery   authflow.Delivery
		wantErr    error
		want       authflow.Delivery
	}{
		{"cookie", false, pw, next, authflow.Cookie, nil, authflow.Cookie},
		{"token", false, pw, next, authflow.Token, nil, authflow.Token},
		{"token without an issuer falls back to a cookie", true, pw, next, authflow.Token, nil, authflow.Cookie},
		{"wrong current password", false, "wrong", next, authflow.Cookie, authn.ErrInvalidCredentials, ""},
		{"weak new password", false, pw, "short", authflow.Cookie, new(password.PolicyError), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			a, err := f.flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
			if err != nil {
				t.Fatal(err)
			}
			b, err := f.flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.spa.ID}, use)
			if err != nil {
				t.Fatal(err)
			}
			f.now = f.now.Add(time.Second)
			flows := f.flows
			if tc.cookieOnly {
				flows = f.cookieOnly
			}
			res, err := flows.ChangePassword(ctx, a.Session, tc.current, tc.next, authflow.Target{Delivery: tc.delivery}, use)
			if pe := new(password.PolicyError); errors.As(tc.wantErr, &pe) {
				if !errors.As(err, &pe) {
					t.Fatalf("ChangePassword: %v, want a policy error", err)
				}
			} else if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("ChangePassword: %v, want %v", err, tc.wantErr)
			}
			live, _ := f.sessions.List(ctx, f.user.ID)
			if err != nil {
				// Nothing changed: both sessions live on.
				if len(live) != 2 {
					t.Fatalf("%d sessions live after a refused change, want 2", len(live))
				}
				return
			}
			// Every earlier session ended, the current one included; the
			// fresh one is the only one left.
			for _, old := range []authflow.Result{a, b} {
				if _, err := f.sessions.ValidateID(ctx, old.Session.ID, session.Use{}); !errors.Is(err, session.ErrRevoked) {
					t.Errorf("old session %s: %v, want ErrRevoked", old.Session.ID, err)
				}
			}
			if len(live) != 1 || live[0].ID != res.Session.ID || res.Session.ID == a.Session.ID {
				t.Fatalf("sessions after the change: %+v (new %s)", live, res.Session.ID)
			}
			if res.Delivery != tc.want {
				t.Fatalf("delivery %q, want %q", res.Delivery, tc.want)
			}
			checkDelivery(t, f, res, "")
			// The new password logs in.
			if _, err := f.flows.Login(ctx, authflow.Login{Username: "ann", Password: tc.next, Delivery: authflow.Cookie}, use); err != nil {
				t.Fatalf("login with the new password: %v", err)
			}
		})
	}
}

// failingIssuer issues nothing.
type failingIssuer struct{ *oauth.Service }

func (failingIssuer) IssueForSession(context.Context, oauth.SessionGrant, time.Time) (oauth.Tokens, error) {
	return oauth.Tokens{}, errors.New("disk on fire")
}

// A session whose tokens could not be issued must not linger.
func TestLoginIssuanceFails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	flows := authflow.New(f.an, f.sessions, nil, failingIssuer{f.oauth}, authflow.Config{})
	_, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token}, use)
	if !errors.Is(err, authflow.ErrUnavailable) {
		t.Fatalf("Login: %v, want ErrUnavailable", err)
	}
	if live, _ := f.sessions.List(ctx, f.user.ID); len(live) != 0 {
		t.Fatalf("%d sessions left behind", len(live))
	}
}

// accessSessions stands in for tokenstate: one access token, one session.
type accessSessions struct {
	raw string
	s   *session.Manager
	id  string
}

func (a accessSessions) AccessSession(ctx context.Context, raw string, u session.Use) (session.Session, error) {
	if raw != a.raw {
		return session.Session{}, session.ErrInvalid
	}
	return a.s.ValidateID(ctx, a.id, u)
}

// A login ends the live sessions its request presented, and only after
// the password was accepted; the new session is fresh (ASVS 5.0 7.2.4).
func TestLoginEndsPresentedSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, err := f.flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token}, use)
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if err != nil {
		t.Fatal(err)
	}
	flows := authflow.New(f.an, f.sessions, nil, f.oauth, authflow.Config{Access: accessSessions{b.Tokens.AccessToken, f.sessions, b.Session.ID}})
	presented := []string{a.SessionToken.Reveal(), b.Tokens.AccessToken, "garbage", "tss_x"}
	live := func(id string) bool {
		_, err := f.sessions.ValidateID(ctx, id, session.Use{})
		return err == nil
	}
	if _, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: "wrong", Presented: presented}, use); !errors.Is(err, authn.ErrInvalidCredentials) {
		t.Fatalf("Login: %v", err)
	}
	if !live(a.Session.ID) || !live(b.Session.ID) {
		t.Fatal("a failed login ended a presented session")
	}
	res, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie, Presented: presented}, use)
	if err != nil {
		t.Fatal(err)
	}
	if live(a.Session.ID) || live(b.Session.ID) {
		t.Fatal("the presented sessions live on")
	}
	if !live(other.Session.ID) || !live(res.Session.ID) || res.Session.ID == a.Session.ID || res.SessionToken.Reveal() == a.SessionToken.Reveal() {
		t.Fatalf("new session %s (presented %s); the unpresented one live: %v", res.Session.ID, a.Session.ID, live(other.Session.ID))
	}
}

// A login is counted once, by its outcome: LoginSucceeded only once the
// session exists; a right password whose login failed afterwards is a
// LoginFailed (issue 10, R5: it was counted as a success).
func TestLoginEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rec := &eventtest.Recorder{}
	cfg := authflow.Config{Events: rec, Now: func() time.Time { return f.now }}
	ok := authflow.New(f.an, f.sessions, nil, f.oauth, cfg)
	broken := authflow.New(f.an, f.sessions, nil, failingIssuer{f.oauth}, cfg)
	for _, tc := range []struct {
		name       string
		flows      *authflow.Flows
		req        authflow.Login
		wantKind   event.Kind
		wantReason string
	}{
		{"session started", ok, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.spa.ID}, event.LoginSucceeded, ""},
		{"unusable client", ok, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.conf.ID}, event.LoginFailed, event.ReasonInvalidClient},
		{"third-party client", ok, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.third.ID}, event.LoginFailed, event.ReasonUnauthorizedClient},
		{"tokens not issued", broken, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token}, event.LoginFailed, event.ReasonError},
	} {
		rec.Reset()
		res, err := tc.flows.Login(ctx, tc.req, use)
		evs := rec.Events()
		// A third-party client is refused before the password is checked:
		// no user is known then, and the event names the client.
		wantUser, wantClient := f.user.ID, ""
		if tc.wantReason == event.ReasonUnauthorizedClient {
			wantUser, wantClient = "", f.third.ID
		} else if tc.wantKind == event.LoginSucceeded {
			wantClient = tc.req.ClientID
		}
		if len(evs) != 1 || evs[0].ClientID != wantClient || evs[0].Kind != tc.wantKind || evs[0].Reason != tc.wantReason || evs[0].UserID != wantUser ||
			evs[0].IP != use.IP || !evs[0].At.Equal(f.now) || evs[0].SessionID != res.Session.ID || (err == nil) != (tc.wantKind == event.LoginSucceeded) {
			t.Errorf("%s: %v, events %+v", tc.name, err, evs)
		}
	}
}

// A password change (or a factor's removal) for a caller holding a
// third-party client's tokens ends every session as always, but hands out
// no tokens: neither the
// third party's (RFC 9700 §2.4) nor the first party's in their place.
func TestChangePasswordThirdPartyTarget(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cur, err := f.flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.flows.ChangePassword(ctx, cur.Session, pw, "a new and different passphrase", authflow.Target{Delivery: authflow.Token, ClientID: f.third.ID}, use)
	if !errors.Is(err, authflow.ErrUnauthorizedClient) || res.Tokens.AccessToken != "" || res.SessionToken.Reveal() != "" {
		t.Fatalf("ChangePassword = %+v, %v", res, err)
	}
	if live, _ := f.sessions.List(ctx, f.user.ID); len(live) != 0 {
		t.Fatalf("%d sessions live after the password change", len(live))
	}
	// Removing a factor renews the same way.
	cur, err = f.flows.Login(ctx, authflow.Login{Username: "ann", Password: "a new and different passphrase", Delivery: authflow.Cookie}, use)
	if err != nil {
		t.Fatal(err)
	}
	res, err = f.flows.RenewAfterReset(ctx, cur.Session, session.ReasonMFAReset, nil, authflow.Target{Delivery: authflow.Token, ClientID: f.third.ID}, use)
	if !errors.Is(err, authflow.ErrUnauthorizedClient) || res.Tokens.AccessToken != "" || res.SessionToken.Reveal() != "" {
		t.Fatalf("RenewAfterReset = %+v, %v", res, err)
	}
	if live, _ := f.sessions.List(ctx, f.user.ID); len(live) != 0 {
		t.Fatalf("%d sessions live after the reset", len(live))
	}
}
