package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/keys/keystest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
	"github.com/tessera-auth/tessera/token"
)

func newService(t *testing.T, pepper string) (*Service, *sqlite.Store) {
	t.Helper()
	st := sqlitetest.Open(t)
	ks := keystest.New(t, st, keys.Config{RetiredTTL: time.Hour})
	return New(st, ks, Config{Issuer: "https://i", Audience: "https://i", Access: time.Minute, Refresh: time.Hour, Pepper: []byte(pepper)}), st
}

// newSession stores the user u1 (alice) and her one-hour session s1, both
// created at at.
func newSession(t *testing.T, st *sqlite.Store, at time.Time) store.Session {
	t.Helper()
	ctx := context.Background()
	if err := st.CreateUser(ctx, store.User{ID: "u1", Username: "alice", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	sid, _ := token.New(token.Session)
	sess := store.Session{ID: "s1", TokenHash: sid.Hash(), UserID: "u1", CreatedAt: at, AuthTime: at, ExpiresAt: at.Add(time.Hour), LastSeenAt: at, IdleTimeout: time.Hour, AAL: 1}
	if _, err := st.CreateSession(ctx, sess, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return sess
}

func code(err error) string {
	var oe *Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	return ""
}

func TestClientAuthentication(t *testing.T) {
	s, st := newService(t, "pepper-1")
	ctx := context.Background()
	conf, secret, err := s.RegisterClient(ctx, ClientSpec{Name: "svc", Scopes: []string{"a"}})
	if err != nil || !strings.HasPrefix(secret, "tsc_") {
		t.Fatalf("register: %v %q", err, secret)
	}
	stored, _ := st.ClientByID(ctx, conf.ID)
	if strings.Contains(string(stored.SecretHash), secret) || len(stored.SecretHash) != 32 {
		t.Fatal("the secret is stored in the clear")
	}
	pub, sec, err := s.RegisterClient(ctx, ClientSpec{Name: "spa", Public: true, Grants: []string{GrantRefreshToken}})
	if err != nil || sec != "" {
		t.Fatalf("public register: %v %q", err, sec)
	}
	if _, err := s.AuthenticateClient(ctx, conf.ID, secret); err != nil {
		t.Fatalf("right secret: %v", err)
	}
	if _, err := s.AuthenticateClient(ctx, pub.ID, ""); err != nil {
		t.Fatalf("public client: %v", err)
	}
	for name, try := range map[string][2]string{
		"wrong secret":         {conf.ID, secret + "x"},
		"no secret":            {conf.ID, ""},
		"unknown client":       {"nope", secret},
		"public with a secret": {pub.ID, "anything"},
		"empty id":             {"", ""},
	} {
		if _, err := s.AuthenticateClient(ctx, try[0], try[1]); code(err) != "invalid_client" {
			t.Errorf("%s: %v, want invalid_client", name, err)
		}
	}
	// The hash is keyed: the same database under another pepper verifies nothing.
	other := New(st, s.keys, Config{Pepper: []byte("pepper-2")})
	if _, err := other.AuthenticateClient(ctx, conf.ID, secret); code(err) != "invalid_client" {
		t.Fatal("secret verified under a different pepper")
	}
}

func TestClientCredentialsScopes(t *testing.T) {
	s, _ := newService(t, "p")
	ctx := context.Background()
	c, _, _ := s.RegisterClient(ctx, ClientSpec{Name: "svc", Scopes: []string{"read", "write"}})
	toks, err := s.ClientCredentials(ctx, c, "")
	if err != nil || toks.Scope != "read write" || toks.RefreshToken != "" {
		t.Fatalf("all scopes: %+v %v", toks, err)
	}
	if toks, err := s.ClientCredentials(ctx, c, "write"); err != nil || toks.Scope != "write" {
		t.Fatalf("subset: %+v %v", toks, err)
	}
	for _, sc := range []string{"admin", "read admin", "read  write", strings.Repeat("a", 2000)} {
		if _, err := s.ClientCredentials(ctx, c, sc); code(err) != "invalid_scope" {
			t.Errorf("scope %.20q: %v", sc, err)
		}
	}
	rt, _, _ := s.RegisterClient(ctx, ClientSpec{Name: "rt-only", Grants: []string{GrantRefreshToken}})
	if _, err := s.ClientCredentials(ctx, rt, ""); code(err) != "unauthorized_client" {
		t.Fatalf("client without the grant: %v", err)
	}
}

func TestOpaqueAccessTokens(t *testing.T) {
	s, st := newService(t, "p")
	ctx := context.Background()
	c, _, err := s.RegisterClient(ctx, ClientSpec{Name: "legacy", Scopes: []string{"read"}, TokenFormat: FormatOpaque})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := s.ClientCredentials(ctx, c, "")
	if err != nil || !strings.HasPrefix(toks.AccessToken, "tsa_") {
		t.Fatalf("opaque client got %q, %v", toks.AccessToken, err)
	}
	tok, _ := token.Parse(token.Access, toks.AccessToken)
	rec, err := st.AccessTokenByHash(ctx, tok.Hash())
	if err != nil || rec.ClientID != c.ID || rec.Scope != "read" || rec.ID == "" {
		t.Fatalf("stored record %+v, %v", rec, err)
	}
	if _, _, err := s.RegisterClient(ctx, ClientSpec{Name: "x", TokenFormat: "paseto"}); code(err) != "invalid_request" {
		t.Fatalf("unknown format: %v", err)
	}
}

// TestRefreshNarrowedScope: a narrower scope on a refresh request narrows
// that access token only; the family keeps its grant (RFC 6749 §6), so the
// next refresh without a scope gets all of it back.
func TestRefreshNarrowedScope(t *testing.T) {
	s, st := newService(t, "p")
	ctx := context.Background()
	c, _, err := s.RegisterClient(ctx, ClientSpec{Name: "app", Grants: []string{GrantRefreshToken}, Scopes: []string{"read", "write"}, TokenFormat: FormatOpaque})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	sess := newSession(t, st, now)
	toks, err := s.IssueForSession(ctx, SessionGrant{SessionID: "s1", UserID: "u1", ClientID: c.ID, Scope: "read write", TokenFormat: FormatOpaque}, sess.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	scopeOf := func(access string) string {
		t.Helper()
		tok, err := token.Parse(token.Access, access)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := st.AccessTokenByHash(ctx, tok.Hash())
		if err != nil {
			t.Fatal(err)
		}
		return rec.Scope
	}
	narrow, err := s.Refresh(ctx, c, toks.RefreshToken, "read")
	if err != nil || narrow.Scope != "read" || scopeOf(narrow.AccessToken) != "read" {
		t.Fatalf("narrowed refresh: %+v, %v", narrow, err)
	}
	if _, err := s.Refresh(ctx, c, narrow.RefreshToken, "admin"); code(err) != "invalid_scope" {
		t.Fatalf("wider scope: %v, want invalid_scope", err)
	}
	full, err := s.Refresh(ctx, c, narrow.RefreshToken, "")
	if err != nil || full.Scope != "read write" || scopeOf(full.AccessToken) != "read write" {
		t.Fatalf("refresh after a narrowed one: %+v, %v", full, err)
	}
}

// TestAccessTokenCappedAtSessionExpiry: an access token never outlives its
// session's absolute expiry, at issue and at refresh, in either format, so a
// verifier that only learns of revocations still stops accepting it when the
// session ends (issue 10).
func TestAccessTokenCappedAtSessionExpiry(t *testing.T) {
	for _, format := range []string{FormatJWT, FormatOpaque} {
		t.Run(format, func(t *testing.T) {
			st := sqlitetest.Open(t)
			ks := keystest.New(t, st, keys.Config{RetiredTTL: time.Hour})
			now := time.Now().UTC().Truncate(time.Second)
			s := New(st, ks, Config{Issuer: "https://i", Audience: "https://i", Access: 15 * time.Minute, Refresh: time.Hour,
				Pepper: []byte("p"), Now: func() time.Time { return now }})
			ctx := context.Background()
			c, _, err := s.RegisterClient(ctx, ClientSpec{Name: "app", Grants: []string{GrantRefreshToken}, Scopes: []string{"read"}, TokenFormat: format})
			if err != nil {
				t.Fatal(err)
			}
			sess := newSession(t, st, now.Add(-time.Hour+5*time.Minute)) // ends in 5 min
			expiryOf := func(access string) time.Time {
				t.Helper()
				if format == FormatOpaque {
					tok, err := token.Parse(token.Access, access)
					if err != nil {
						t.Fatal(err)
					}
					rec, err := st.AccessTokenByHash(ctx, tok.Hash())
					if err != nil {
						t.Fatal(err)
					}
					return rec.ExpiresAt
				}
				payload, err := base64.RawURLEncoding.DecodeString(strings.Split(access, ".")[1])
				if err != nil {
					t.Fatal(err)
				}
				var cl accesstoken.Claims
				if err := json.Unmarshal(payload, &cl); err != nil {
					t.Fatal(err)
				}
				return time.Unix(cl.Expiry, 0)
			}
			check := func(what string, toks Tokens) {
				t.Helper()
				if exp := expiryOf(toks.AccessToken); exp.After(sess.ExpiresAt) {
					t.Fatalf("%s: access token expires %v, after the session (%v)", what, exp, sess.ExpiresAt)
				}
				if toks.ExpiresIn > int64(sess.ExpiresAt.Sub(now).Seconds()) {
					t.Fatalf("%s: expires_in %d outlives the session (%v)", what, toks.ExpiresIn, sess.ExpiresAt.Sub(now))
				}
			}
			toks, err := s.IssueForSession(ctx, SessionGrant{SessionID: sess.ID, UserID: "u1", ClientID: c.ID, Scope: "read", TokenFormat: format}, sess.ExpiresAt)
			if err != nil {
				t.Fatal(err)
			}
			check("issue", toks)
			next, err := s.Refresh(ctx, c, toks.RefreshToken, "")
			if err != nil {
				t.Fatal(err)
			}
			check("refresh", next)
		})
	}
}

// TestFirstPartyClient: the first party authenticates by its configured
// id alone, as a public client allowed refresh tokens; its refresh tokens
// stay stored under "" (so a rename orphans no family) and its access
// tokens carry the configured id.
func TestFirstPartyClient(t *testing.T) {
	st := sqlitetest.Open(t)
	ks := keystest.New(t, st, keys.Config{RetiredTTL: time.Hour})
	now := time.Now().UTC().Truncate(time.Second)
	s := New(st, ks, Config{Issuer: "https://i", Audience: "https://i", Access: time.Minute, Refresh: time.Hour, Pepper: []byte("p"),
		FirstPartyID: "web", Now: func() time.Time { return now }})
	ctx := context.Background()
	c, err := s.AuthenticateClient(ctx, "web", "")
	if err != nil || c.ID != "" || c.SecretHash != nil || len(c.Grants) != 1 || c.Grants[0] != GrantRefreshToken {
		t.Fatalf("first party: %+v, %v", c, err)
	}
	if _, err := s.AuthenticateClient(ctx, "web", "a-secret"); code(err) != "invalid_client" {
		t.Fatalf("first party with a secret: %v", err)
	}
	if _, err := s.AuthenticateClient(ctx, "tessera", ""); code(err) != "invalid_client" {
		t.Fatalf("the default name, renamed away: %v", err)
	}
	sess := newSession(t, st, now)
	toks, err := s.IssueForSession(ctx, SessionGrant{SessionID: sess.ID, UserID: "u1"}, sess.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.Refresh(ctx, c, toks.RefreshToken, "")
	if err != nil {
		t.Fatalf("refresh as the first party: %v", err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(next.AccessToken, ".")[1])
	var cl accesstoken.Claims
	if err := json.Unmarshal(payload, &cl); err != nil || cl.ClientID != "web" {
		t.Fatalf("client_id claim %q, %v", cl.ClientID, err)
	}
	nt, _ := token.Parse(token.Refresh, next.RefreshToken)
	if rt, err := st.RefreshTokenByHash(ctx, nt.Hash()); err != nil || rt.ClientID != "" {
		t.Fatalf("stored refresh token's client %q, %v", rt.ClientID, err)
	}
}
