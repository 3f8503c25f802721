package tokenstate_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/keys/keystest"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/protocol"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/tokenstate"
)

type verifier struct{ v *accesstoken.Verifier }

func (v verifier) Verify(raw string, _ time.Time) (*accesstoken.Claims, error) {
	return v.v.Verify(raw)
}

// fixture is one user with one session, and tokens of every kind for it.
type fixture struct {
	now      time.Time
	st       *sqlite.Store
	sessions *session.Manager
	svc      *tokenstate.Service
	oauth    *oauth.Service
	rec      *eventtest.Recorder
	verifier verifier

	spa, rs, first store.Client // spa: the tokens' client; rs: another; first: Tessera's own login
	sessionTok     string
	sid            string
	jwt, rt        string // issued to spa
	opaque         string // issued to spa, opaque format
	firstJWT       string // issued to Tessera's own login
	firstRT        string // issued to Tessera's own login
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), rec: &eventtest.Recorder{}}
	clock := func() time.Time { return f.now }
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	// No cache: every validation reads the store, so a closed store shows.
	f.sessions = session.New(st, session.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 24 * time.Hour, TouchInterval: time.Minute, Now: clock})
	if err := f.sessions.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ks := keystest.New(t, st, keys.Config{RetiredTTL: time.Hour})
	os := oauth.New(st, ks, oauth.Config{Issuer: "https://i", Audience: "https://i", Access: time.Minute, Refresh: time.Hour, Pepper: []byte("p"), Now: clock})
	v := &accesstoken.Verifier{Issuer: "https://i", Audience: "https://i", Algorithms: []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}, Now: clock, Leeway: time.Second,
		Keys: func(kid string) (*jose.JSONWebKey, error) {
			k, err := ks.PublicKey(kid)
			if err != nil {
				return nil, accesstoken.ErrUnknownKey
			}
			return k, nil
		}}
	f.oauth = os
	f.verifier = verifier{v}
	f.svc = tokenstate.New(f.sessions, f.sessions.Follower(), verifier{v}, st, tokenstate.Config{Issuer: "https://i", Events: f.rec, Now: clock})

	if err := st.CreateUser(ctx, store.User{ID: "u1", Username: "ann", PasswordHash: "x", CreatedAt: f.now, PasswordChangedAt: f.now}); err != nil {
		t.Fatal(err)
	}
	if f.spa, _, err = os.RegisterClient(ctx, oauth.ClientSpec{Name: "spa", Public: true, Grants: []string{oauth.GrantRefreshToken}, Scopes: []string{"read"}}); err != nil {
		t.Fatal(err)
	}
	if f.rs, _, err = os.RegisterClient(ctx, oauth.ClientSpec{Name: "rs", Grants: []string{oauth.GrantClientCredentials}, Introspect: true}); err != nil {
		t.Fatal(err)
	}
	// The domain judges whatever caller it is given; the HTTP layer
	// admits only confidential clients. These checks ask as spa and as
	// the first party too, to see what their own tokens look like.
	f.spa.Introspect, f.first.Introspect = true, true
	tok, sess, err := f.sessions.Create(ctx, session.NewSession{UserID: "u1", Username: "ann", PasswordChangedAt: f.now})
	if err != nil {
		t.Fatal(err)
	}
	f.sessionTok, f.sid = tok.Reveal(), sess.ID
	issue := func(client, format string) oauth.Tokens {
		toks, err := os.IssueForSession(ctx, oauth.SessionGrant{SessionID: sess.ID, UserID: "u1", AuthTime: f.now, ClientID: client, Scope: "read", TokenFormat: format}, sess.ExpiresAt)
		if err != nil {
			t.Fatal(err)
		}
		return toks
	}
	toks := issue(f.spa.ID, oauth.FormatJWT)
	f.jwt, f.rt = toks.AccessToken, toks.RefreshToken
	f.opaque = issue(f.spa.ID, oauth.FormatOpaque).AccessToken
	toks = issue("", oauth.FormatJWT)
	f.firstJWT, f.firstRT = toks.AccessToken, toks.RefreshToken
	return f
}

func TestIntrospect(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		caller   store.Client
		raw      string
		wantType string // "": inactive
		wantKind string // the Introspected event's Token
	}{
		{"jwt", f.rs, f.jwt, "Bearer", event.TokenAccess},
		{"opaque access", f.rs, f.opaque, "Bearer", event.TokenAccess},
		{"session", f.rs, f.sessionTok, "session", event.TokenSession},
		{"refresh by its client", f.spa, f.rt, "refresh_token", event.TokenRefresh},
		{"refresh by another client", f.rs, f.rt, "", ""},
		{"jwt, one character changed", f.rs, otherLast(f.jwt), "", ""},
		{"session, checksum broken", f.rs, otherLast(f.sessionTok), "", ""},
		{"garbage", f.rs, "hello", "", ""},
	} {
		f.rec.Reset()
		got, err := f.svc.Introspect(ctx, tc.caller, tc.raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.Active != (tc.wantType != "") || got.TokenType != tc.wantType {
			t.Errorf("%s: active %v type %q, want type %q", tc.name, got.Active, got.TokenType, tc.wantType)
		}
		if got.Active && (got.Sub != "u1" || got.Username != "ann" || got.Sid != f.sid) {
			t.Errorf("%s: %+v", tc.name, got)
		}
		if !got.Active && (!reflect.DeepEqual(got, protocol.Introspection{})) {
			t.Errorf("%s: an inactive answer says more than active=false: %+v", tc.name, got)
		}
		ev := f.rec.Of(event.Introspected)
		if len(ev) != 1 || ev[0].Active != got.Active || ev[0].Token != tc.wantKind || ev[0].ClientID != tc.caller.ID {
			t.Errorf("%s: Introspected events %+v", tc.name, ev)
		}
	}

	// Past exp (the verifier's leeway notwithstanding) an access token is
	// inactive; the session and refresh token live on.
	f.now = f.now.Add(time.Minute)
	for raw, active := range map[string]bool{f.jwt: false, f.opaque: false, f.sessionTok: true} {
		if got, err := f.svc.Introspect(ctx, f.rs, raw); err != nil || got.Active != active {
			t.Errorf("after exp: %.4s active %v (%v), want %v", raw, got.Active, err, active)
		}
	}
}

// One subject rule (issue 10): an access token, JWT or opaque, whose sub
// is not its session's user stands for nothing — not as a bearer
// credential, not in introspection.
func TestSubjectMustBeSessionUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, format := range []string{oauth.FormatJWT, oauth.FormatOpaque} {
		toks, err := f.oauth.IssueForSession(ctx, oauth.SessionGrant{SessionID: f.sid, UserID: "u2", AuthTime: f.now, ClientID: f.spa.ID, Scope: "read", TokenFormat: format}, f.now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.AccessSession(ctx, toks.AccessToken, session.Use{}); !errors.Is(err, session.ErrInvalid) {
			t.Errorf("%s bearer whose sub is not the session's user: %v, want ErrInvalid", format, err)
		}
		out, err := f.svc.Introspect(ctx, f.rs, toks.AccessToken)
		if err != nil || out.Active {
			t.Errorf("%s introspection whose sub is not the session's user: %+v, %v; want inactive", format, out, err)
		}
	}
}

func TestIntrospectEndedSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.sessions.Revoke(ctx, f.sid, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{"jwt": f.jwt, "opaque": f.opaque, "session": f.sessionTok} {
		if got, err := f.svc.Introspect(ctx, f.rs, raw); err != nil || got.Active {
			t.Errorf("%s of an ended session: active %v, err %v", name, got.Active, err)
		}
	}
	if got, err := f.svc.Introspect(ctx, f.spa, f.rt); err != nil || got.Active {
		t.Errorf("refresh of an ended session: active %v, err %v", got.Active, err)
	}
}

// A store that cannot answer is an error, never "inactive".
func TestIntrospectUnavailable(t *testing.T) {
	f := newFixture(t)
	f.st.Close()
	for name, raw := range map[string]string{"session": f.sessionTok, "refresh": f.rt} {
		_, err := f.svc.Introspect(context.Background(), f.spa, raw)
		if !errors.Is(err, tokenstate.ErrUnavailable) {
			t.Errorf("%s with the store closed: %v, want ErrUnavailable", name, err)
		}
	}
	if _, err := f.svc.Introspect(context.Background(), f.spa, "garbage"); err != nil {
		t.Errorf("garbage needs no store: %v", err)
	}
	if n := len(f.rec.Of(event.Introspected)); n != 1 {
		t.Errorf("%d Introspected events, want 1 (none for an unanswered question)", n)
	}
}

func TestRevoke(t *testing.T) {
	for _, tc := range []struct {
		name    string
		caller  func(*fixture) store.Client
		raw     func(*fixture) string
		wantErr error
		// revoked: the token is inactive afterwards.
		revoked   bool
		wantEvent string // the TokenRevoked event's Token; "": none
	}{
		{"jwt by its client", spa, jwt, nil, true, event.TokenAccess},
		{"jwt by another client", rs, jwt, tokenstate.ErrNotYours, false, ""},
		{"jwt by the first party", first, jwt, tokenstate.ErrNotYours, false, ""},
		{"first-party jwt by the first party", first, firstJWT, nil, true, event.TokenAccess},
		{"first-party jwt by a client", spa, firstJWT, tokenstate.ErrNotYours, false, ""},
		{"opaque by its client", spa, opaque, nil, true, event.TokenAccess},
		{"opaque by another client", rs, opaque, tokenstate.ErrNotYours, false, ""},
		{"refresh by its client", spa, rt, nil, true, event.TokenRefresh},
		{"refresh by another client", rs, rt, tokenstate.ErrNotYours, false, ""},
		{"refresh by the first party", first, rt, tokenstate.ErrNotYours, false, ""},
		{"first-party refresh by the first party", first, firstRT, nil, true, event.TokenRefresh},
		{"first-party refresh by a client", spa, firstRT, tokenstate.ErrNotYours, false, ""},
		// RFC 7009 §2.2: an invalid token is not an error.
		{"garbage", rs, func(*fixture) string { return "garbage" }, nil, false, ""},
		{"forged jwt", spa, func(f *fixture) string { return otherLast(f.jwt) }, nil, false, ""},
		// A session token is the first party's: its holder may end it,
		// as /v1/logout allows; no client may end a user's session.
		{"session by the first party", first, sessionTok, nil, true, event.TokenSession},
		{"session by a client", spa, sessionTok, tokenstate.ErrNotYours, false, ""},
		{"session by a confidential client", rs, sessionTok, tokenstate.ErrNotYours, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			raw, caller := tc.raw(f), tc.caller(f)
			err := f.svc.Revoke(ctx, caller, raw)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Revoke: %v, want %v", err, tc.wantErr)
			}
			introspector := f.rs
			switch raw {
			case f.rt:
				introspector = f.spa
			case f.firstRT:
				introspector = f.first
			}
			got, err := f.svc.Introspect(ctx, introspector, raw)
			if err != nil {
				t.Fatal(err)
			}
			wasActive := raw == f.jwt || raw == f.opaque || raw == f.rt || raw == f.firstRT || raw == f.firstJWT || raw == f.sessionTok
			if got.Active != (wasActive && !tc.revoked) {
				t.Errorf("active after Revoke: %v", got.Active)
			}
			ev := f.rec.Of(event.TokenRevoked)
			if tc.wantEvent == "" && len(ev) != 0 || tc.wantEvent != "" && (len(ev) != 1 || ev[0].Token != tc.wantEvent || ev[0].SessionID != f.sid) {
				t.Errorf("TokenRevoked events: %+v", ev)
			}
			if len(ev) == 1 && ev[0].Token == event.TokenAccess {
				want := "jwt"
				if raw == f.opaque {
					want = "opaque"
				}
				if ev[0].Format != want || ev[0].JTI == "" || ev[0].UserID != "u1" {
					t.Errorf("TokenRevoked: %+v, want format %s", ev[0], want)
				}
			}
			if (raw == f.rt || raw == f.firstRT || raw == f.sessionTok) && tc.revoked {
				// A refresh token ends its family, a session token its
				// session: the session is revoked.
				if _, err := f.sessions.ValidateID(ctx, f.sid, session.Use{}); !errors.Is(err, session.ErrRevoked) {
					t.Errorf("session after its refresh token was revoked: %v", err)
				}
			}
		})
	}
}

func TestRevokeUnavailable(t *testing.T) {
	f := newFixture(t)
	f.st.Close()
	for name, raw := range map[string]string{"opaque": f.opaque, "refresh": f.rt, "jwt": f.jwt, "session": f.sessionTok} {
		if err := f.svc.Revoke(context.Background(), f.spa, raw); !errors.Is(err, tokenstate.ErrUnavailable) {
			t.Errorf("%s with the store closed: %v, want ErrUnavailable", name, err)
		}
	}
}

func spa(f *fixture) store.Client   { return f.spa }
func rs(f *fixture) store.Client    { return f.rs }
func first(f *fixture) store.Client { return f.first }

func jwt(f *fixture) string        { return f.jwt }
func firstJWT(f *fixture) string   { return f.firstJWT }
func opaque(f *fixture) string     { return f.opaque }
func rt(f *fixture) string         { return f.rt }
func sessionTok(f *fixture) string { return f.sessionTok }
func firstRT(f *fixture) string    { return f.firstRT }

func TestAccessSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// A JWT naming another user than its session's: forged or misissued.
	toks, err := f.oauth.IssueForSession(ctx, oauth.SessionGrant{SessionID: f.sid, UserID: "u2", AuthTime: f.now, ClientID: f.spa.ID}, f.now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	otherSub := toks.AccessToken
	for _, tc := range []struct {
		name    string
		raw     string
		wantErr error
	}{
		{"jwt", f.jwt, nil},
		{"opaque", f.opaque, nil},
		{"first-party jwt", f.firstJWT, nil},
		{"jwt whose sub is not the session's user", otherSub, session.ErrInvalid},
		{"forged jwt", otherLast(f.jwt), session.ErrInvalid},
		{"session token", f.sessionTok, session.ErrInvalid},
		{"refresh token", f.rt, session.ErrInvalid},
		{"garbage", "garbage", session.ErrInvalid},
	} {
		sess, err := f.svc.AccessSession(ctx, tc.raw, session.Use{})
		if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
			continue
		}
		if err == nil && (sess.ID != f.sid || sess.UserID != "u1") {
			t.Errorf("%s: session %+v", tc.name, sess)
		}
	}
	// A denied token, and any token of an ended session, stop at once.
	if err := f.svc.Revoke(ctx, f.spa, f.jwt); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AccessSession(ctx, f.jwt, session.Use{}); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("revoked jwt: %v", err)
	}
	if _, err := f.sessions.Revoke(ctx, f.sid, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{"jwt": f.firstJWT, "opaque": f.opaque} {
		if _, err := f.svc.AccessSession(ctx, raw, session.Use{}); !errors.Is(err, session.ErrRevoked) && !errors.Is(err, session.ErrInvalid) {
			t.Errorf("%s of an ended session: %v", name, err)
		}
	}
}

// unreadableFeed is a denylist that cannot be consulted: the feed cannot
// be read (a store failure while the follower is not trusted).
type unreadableFeed struct{ tokenstate.Denylist }

func (unreadableFeed) Denied(context.Context, string) (bool, error) {
	return true, errors.New("feed: database is closed")
}

// A denylist that cannot be consulted makes a token's state unknown:
// unavailable, never inactive or invalid — a client must keep a token that
// is not known to be bad (issue 10, R3).
func TestDenylistUnavailable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc := tokenstate.New(f.sessions, unreadableFeed{f.sessions.Follower()}, f.verifier, f.st, tokenstate.Config{Issuer: "https://i", Now: func() time.Time { return f.now }})
	for name, raw := range map[string]string{"jwt": f.jwt, "opaque": f.opaque} {
		if got, err := svc.Introspect(ctx, f.rs, raw); !errors.Is(err, tokenstate.ErrUnavailable) {
			t.Errorf("introspect %s: %+v, %v; want ErrUnavailable", name, got, err)
		}
		if _, err := svc.AccessSession(ctx, raw, session.Use{}); !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("access session of %s: %v, want session.ErrUnavailable", name, err)
		}
		if at, err := svc.OpaqueAccess(ctx, f.opaque); name == "opaque" && (at != nil || err == nil) {
			t.Errorf("OpaqueAccess: %v, %v; want an error", at, err)
		}
	}
	// What needs no denylist still answers: a forged JWT is invalid.
	if got, err := svc.Introspect(ctx, f.rs, otherLast(f.jwt)); err != nil || got.Active {
		t.Errorf("forged jwt: %+v, %v", got, err)
	}
	if _, err := svc.AccessSession(ctx, otherLast(f.jwt), session.Use{}); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("forged jwt: %v, want ErrInvalid", err)
	}
}

// TestAccessTokenPastExpInLeeway: at its exp a JWT is expired for Tessera
// itself, as a bearer credential and in introspection alike, even while the
// verifier's leeway (for other verifiers' clocks) would still accept it.
func TestAccessTokenPastExpInLeeway(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.now = f.now.Add(time.Minute) // the JWT's exp; the verifier allows 1 s more
	// ErrExpired, not ErrInvalid: a genuine token, late (issue 10, L4
	// counts invalid tokens as probing, expired ones not).
	if _, err := f.svc.AccessSession(ctx, f.jwt, session.Use{}); !errors.Is(err, session.ErrExpired) {
		t.Errorf("AccessSession at exp: %v, want ErrExpired", err)
	}
	if out, err := f.svc.Introspect(ctx, f.spa, f.jwt); err != nil || out.Active {
		t.Errorf("Introspect at exp: %+v, %v; want inactive", out, err)
	}
}

// otherLast is tok with a character near its end replaced by a different
// one: a fixed replacement would sometimes be no change (a JWT's last
// base64url character is one of only four).
func otherLast(tok string) string {
	i := len(tok) - 3
	c := byte('0')
	if tok[i] == c {
		c = '1'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
