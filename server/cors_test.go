package server

import (
	"net/url"
	"testing"

	"github.com/tessera-auth/tessera/session"
)

const spaOrigin = "https://spa.other.test"

func withAllowedOrigins(o ...string) envOption {
	return func(c *Config, _ *session.Config) { c.AllowedOrigins = o }
}

func wantCORS(t *testing.T, r resp, origin string) {
	t.Helper()
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, origin)
	}
	if origin != "" && r.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatal("no Access-Control-Allow-Credentials")
	}
	if r.Header.Get("Vary") != "Origin" {
		t.Fatalf("Vary %q", r.Header.Values("Vary"))
	}
}

func TestCORSPreflight(t *testing.T) {
	e := newEnv(t, withAllowedOrigins(spaOrigin))
	for _, path := range []string{"/oauth2/token", "/oauth2/revoke", "/v1/login", "/v1/session"} {
		r := e.do(e.public, "OPTIONS", path, nil, "Origin", spaOrigin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization,content-type")
		if r.StatusCode != 204 {
			t.Fatalf("%s preflight: %d %s", path, r.StatusCode, r.body)
		}
		wantCORS(t, r, spaOrigin)
		if r.Header.Get("Access-Control-Allow-Methods") == "" || r.Header.Get("Access-Control-Allow-Headers") == "" {
			t.Fatalf("%s preflight headers %v", path, r.Header)
		}
		r = e.do(e.public, "OPTIONS", path, nil, "Origin", "https://evil.test", "Access-Control-Request-Method", "POST")
		if r.StatusCode != 403 {
			t.Fatalf("%s foreign preflight: %d", path, r.StatusCode)
		}
		wantCORS(t, r, "")
	}
	// Discovery stays readable by anyone, without credentials.
	r := e.do(e.public, "GET", "/.well-known/oauth-authorization-server", nil, "Origin", "https://evil.test")
	if r.StatusCode != 200 || r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("metadata: %d %v", r.StatusCode, r.Header)
	}
}

// The SPA's flow from its own origin: token login, whoami, refresh, revoke.
// From any other origin the refresh is refused before it is executed, so
// the token is not consumed and the SPA's next refresh is no "reuse".
func TestCORSRefusesForeignOriginBeforeStateChanges(t *testing.T) {
	e := newEnv(t, withAllowedOrigins(spaOrigin))
	e.addUser("kim", pw)
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true})
	from := func(o string) []string { return []string{"Origin", o, "Sec-Fetch-Site", "cross-site"} }

	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "kim", "password": pw, "delivery": "token", "client_id": spa}, from(spaOrigin)...)
	if r.StatusCode != 200 {
		t.Fatalf("login from the SPA: %d %s", r.StatusCode, r.body)
	}
	wantCORS(t, r, spaOrigin)
	m := r.json(t)
	at, rt := m["access_token"].(string), m["refresh_token"].(string)

	r = e.whoami(append(bearer(at), from(spaOrigin)...)...)
	if r.StatusCode != 200 {
		t.Fatalf("whoami: %d %s", r.StatusCode, r.body)
	}
	wantCORS(t, r, spaOrigin)

	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}}
	for _, o := range []string{"https://evil.test", "null"} {
		r = e.form("/oauth2/token", refresh, from(o)...)
		wantOAuthError(t, r, 403, "invalid_request")
		wantCORS(t, r, "")
	}
	wantProblem(t, e.whoami(append(bearer(at), from("https://evil.test")...)...), 403, "csrf")

	r = e.form("/oauth2/token", refresh, from(spaOrigin)...)
	if r.StatusCode != 200 {
		t.Fatalf("the SPA's refresh after the foreign one: %d %s", r.StatusCode, r.body)
	}
	wantCORS(t, r, spaOrigin)
	rt2 := r.json(t)["refresh_token"].(string)

	r = e.form("/oauth2/revoke", url.Values{"token": {rt2}, "client_id": {spa}}, from("https://evil.test")...)
	wantOAuthError(t, r, 403, "invalid_request")
	r = e.form("/oauth2/revoke", url.Values{"token": {rt2}, "client_id": {spa}}, from(spaOrigin)...)
	if r.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	wantCORS(t, r, spaOrigin)
	if r := e.whoami(bearer(at)...); r.StatusCode != 401 {
		t.Fatalf("whoami after revoke: %d", r.StatusCode)
	}
}
