package server

import (
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// expires_in is the access token's lifetime in seconds (RFC 6749 §5.1),
// as docs/api.md says: on /v1/login and /oauth2/token it equals the JWT's
// exp − iat (access_ttl, 900 s here), not the session's idle timeout
// (30 min here); near the session's absolute expiry it shrinks with the
// token's exp. A cookie login has none.
func TestExpiresInIsAccessTokenLifetime(t *testing.T) {
	e := newEnv(t)
	e.addUser("eve", pw)
	lifetime := func(at string) float64 {
		t.Helper()
		tok, err := jwt.ParseSigned(at, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		var c jwt.Claims
		if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
			t.Fatal(err)
		}
		return float64(c.Expiry.Time().Sub(c.IssuedAt.Time()) / time.Second)
	}
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "eve", "password": pw, "delivery": "token"})
	m := r.json(t)
	if m["expires_in"] != float64(900) || lifetime(m["access_token"].(string)) != 900 {
		t.Fatalf("login expires_in %v, token lifetime %v; want 900 (access_ttl)", m["expires_in"], lifetime(m["access_token"].(string)))
	}
	r = e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}})
	m = r.json(t)
	if m["expires_in"] != float64(900) || lifetime(m["access_token"].(string)) != 900 {
		t.Fatalf("refresh expires_in %v; want 900", m["expires_in"])
	}
	// Ten minutes before the session's absolute end (14 days for token
	// delivery here; refreshed within the 7-day idle timeout): the token,
	// and expires_in, end with the session.
	for _, d := range []time.Duration{6 * 24 * time.Hour, 6 * 24 * time.Hour, 2*24*time.Hour - 10*time.Minute} {
		e.clock.Add(d)
		r = e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}})
		m = r.json(t)
	}
	if r.StatusCode != 200 || m["expires_in"] != float64(600) || lifetime(m["access_token"].(string)) != 600 {
		t.Fatalf("near the session's end: %d expires_in %v; want 600", r.StatusCode, m["expires_in"])
	}

	r = e.do(e.public, "POST", "/v1/login", map[string]string{"username": "eve", "password": pw})
	if _, ok := r.json(t)["expires_in"]; ok {
		t.Fatalf("cookie login has expires_in: %s", r.body)
	}
}
