package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/forwardauth"
	"github.com/tessera-auth/tessera/session"
)

// verify asks /v1/auth/verify as a trusted proxy (the test listener's
// peer is loopback, which the env trusts) about a request to app.test.
func (e *env) verify(method, uri string, headers ...string) resp {
	e.t.Helper()
	h := []string{"X-Forwarded-Method", method, "X-Forwarded-Uri", uri, "X-Forwarded-Host", "app.test", "X-Forwarded-Proto", "https"}
	return e.do(e.public, "GET", "/v1/auth/verify", nil, append(h, headers...)...)
}

func wantVerify(t *testing.T, r resp, status int, reason string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("verify: %d, want %d: %s", r.StatusCode, status, r.body)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("verify answer may be cached: %v", r.Header)
	}
	if status != 200 {
		if got := r.json(t)["code"]; got != reason {
			t.Fatalf("reason %v, want %s", got, reason)
		}
		if r.Header.Get("X-Tessera-User-Id") != "" {
			t.Fatal("identity headers on a refusal")
		}
		// Caddy and Traefik pass a refusal on to the browser.
		if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("refusal without the security headers: %v", r.Header)
		}
	}
}

func withForwardAuth(fc forwardauth.Config, h ForwardAuthHeaders) envOption {
	return func(c *Config, _ *session.Config) { c.ForwardAuth, c.ForwardAuthHeaders = fc, h }
}

func TestForwardAuthIdentities(t *testing.T) {
	e := newEnv(t, withForwardAuth(forwardauth.Config{Service: forwardauth.ServiceTokens{Enabled: true, Scope: []string{"upstream"}}}, ForwardAuthHeaders{Username: "Remote-User"}))
	uid := e.addUser("fay", pw)
	b := e.loginCookie("fay", pw)
	cookie := []string{"Cookie", "__Host-tessera_session=" + b.cookie}

	r := e.verify("GET", "/", cookie...)
	wantVerify(t, r, 200, "")
	if r.Header.Get("X-Tessera-User-Id") != uid || r.Header.Get("Remote-User") != "fay" || r.Header.Get("X-Tessera-Aal") != "1" ||
		r.Header.Get("X-Tessera-Session-Id") == "" || r.Header.Get("X-Tessera-Username") != "" {
		t.Fatalf("cookie identity headers %v", r.Header)
	}

	at := e.loginToken("fay", pw)
	r = e.verify("POST", "/api/x", bearer(at)...) // a bearer needs no CSRF token
	wantVerify(t, r, 200, "")
	if r.Header.Get("X-Tessera-User-Id") != uid || r.Header.Get("X-Tessera-Client-Id") == "" {
		t.Fatalf("JWT identity headers %v", r.Header)
	}

	wantVerify(t, e.verify("GET", "/"), 401, forwardauth.ReasonNoCredential)
	r = e.verify("GET", "/", bearer("tss_notatoken")...)
	wantVerify(t, r, 401, forwardauth.ReasonInvalid)
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	wantVerify(t, e.verify("GET", "/", "Authorization", "Bearer"), 401, forwardauth.ReasonBadCredential)

	// Service tokens: only with the required scope.
	id, secret := e.addClient(map[string]any{"name": "batch", "grants": []string{"client_credentials"}, "scopes": []string{"upstream", "other"}})
	tok := func(scope string) string {
		r := e.token(url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, basic(id, secret)...)
		if r.StatusCode != 200 {
			t.Fatalf("client_credentials: %d %s", r.StatusCode, r.body)
		}
		return r.json(t)["access_token"].(string)
	}
	r = e.verify("GET", "/", bearer(tok("upstream"))...)
	wantVerify(t, r, 200, "")
	if r.Header.Get("X-Tessera-Client-Id") != id || r.Header.Get("X-Tessera-Scope") != "upstream" || r.Header.Get("X-Tessera-User-Id") != "" {
		t.Fatalf("service identity headers %v", r.Header)
	}
	wantVerify(t, e.verify("GET", "/", bearer(tok("other"))...), 403, forwardauth.ReasonScope)

	// Revocation: the session and its access tokens are refused at once.
	if r := e.do(e.public, "POST", "/v1/logout", nil, b.headers()...); r.StatusCode != 204 {
		t.Fatalf("logout: %d %s", r.StatusCode, r.body)
	}
	wantVerify(t, e.verify("GET", "/", cookie...), 401, forwardauth.ReasonInvalid)
}

func TestForwardAuthServiceTokensOffByDefault(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(map[string]any{"name": "batch", "grants": []string{"client_credentials"}})
	r := e.token(url.Values{"grant_type": {"client_credentials"}}, basic(id, secret)...)
	wantVerify(t, e.verify("GET", "/", bearer(r.json(t)["access_token"].(string))...), 403, forwardauth.ReasonServiceToken)
}

// The CSRF + Origin rule of Tessera's own API, applied to the request the
// proxy asks about: before it, a cross-origin text/plain POST carrying the
// cookie passed the gate.
func TestForwardAuthCSRF(t *testing.T) {
	e := newEnv(t)
	e.addUser("gus", pw)
	b := e.loginCookie("gus", pw)
	cookie := []string{"Cookie", "__Host-tessera_session=" + b.cookie}
	for _, tc := range []struct {
		name    string
		method  string
		headers []string
		want    int
	}{
		{"cross-origin text/plain POST", "POST", []string{"Origin", "https://evil.test", "Content-Type", "text/plain"}, 403},
		{"cross-site POST with the token", "POST", []string{"Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site", "X-CSRF-Token", b.csrf}, 403},
		{"same-origin POST without the token", "POST", []string{"Origin", "https://app.test"}, 403},
		{"same-origin POST, wrong token", "POST", []string{"Origin", "https://app.test", "X-CSRF-Token", "AAAA"}, 403},
		{"POST with neither Origin nor Sec-Fetch-Site", "POST", []string{"X-CSRF-Token", b.csrf}, 403},
		{"null origin", "DELETE", []string{"Origin", "null", "X-CSRF-Token", b.csrf}, 403},
		{"unknown method", "", []string{}, 403},
		{"same-origin POST with the token", "POST", []string{"Origin", "https://app.test", "X-CSRF-Token", b.csrf}, 200},
		{"Sec-Fetch-Site same-origin PUT with the token", "PUT", []string{"Sec-Fetch-Site", "same-origin", "X-CSRF-Token", b.csrf}, 200},
		{"Tessera's own origin", "PATCH", []string{"Origin", "https://auth.example.test", "X-CSRF-Token", b.csrf}, 200},
		// Tessera is another site than app.test: a browser says so.
		{"Tessera's own origin, cross-site", "POST", []string{"Origin", "https://auth.example.test", "Sec-Fetch-Site", "cross-site", "X-CSRF-Token", b.csrf}, 200},
		// The target's own origin is never cross-site: the pair is forged.
		{"target origin claimed cross-site", "POST", []string{"Origin", "https://app.test", "Sec-Fetch-Site", "cross-site", "X-CSRF-Token", b.csrf}, 403},
		{"cross-origin GET", "GET", []string{"Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := append(append([]string{}, cookie...), tc.headers...)
			r := e.do(e.public, "GET", "/v1/auth/verify", nil, append([]string{"X-Forwarded-Method", tc.method, "X-Forwarded-Uri", "/form",
				"X-Forwarded-Host", "app.test", "X-Forwarded-Proto", "https"}, h...)...)
			reason := ""
			if tc.want == 403 {
				reason = forwardauth.ReasonCSRF
			}
			wantVerify(t, r, tc.want, reason)
		})
	}
}

// Only a trusted proxy describes the original request: from anyone else
// X-Forwarded-* is ignored and, being present, makes the request unknown,
// so a cookie is held to the CSRF rule whatever method it claims.
func TestForwardAuthUntrustedForwardedHeaders(t *testing.T) {
	e := newEnv(t)
	e.addUser("hal", pw)
	b := e.loginCookie("hal", pw)
	ask := func(remote string, headers ...string) int {
		req := httptest.NewRequest("GET", "/v1/auth/verify", nil)
		req.RemoteAddr = remote
		req.Header.Set("Cookie", "__Host-tessera_session="+b.cookie)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		e.srv.Public().ServeHTTP(w, req)
		return w.Code
	}
	const untrusted, trusted = "192.0.2.7:5555", "127.0.0.1:5555"
	// Direct, no forwarding headers: the GET itself, allowed.
	if c := ask(untrusted); c != 200 {
		t.Fatalf("direct GET: %d", c)
	}
	// A trusted proxy saying GET: allowed; saying POST: refused.
	if c := ask(trusted, "X-Forwarded-Method", "GET", "X-Forwarded-Host", "app.test", "X-Forwarded-Proto", "https", "X-Forwarded-Uri", "/"); c != 200 {
		t.Fatalf("trusted GET: %d", c)
	}
	if c := ask(trusted, "X-Original-Method", "POST", "X-Original-URL", "https://app.test/x"); c != 403 {
		t.Fatalf("trusted X-Original POST: %d", c)
	}
	// The same headers from an untrusted peer are not believed.
	for _, h := range forwardedHeaders {
		if c := ask(untrusted, h, "GET"); c != 403 {
			t.Fatalf("untrusted %s: %d, want 403", h, c)
		}
	}
}

func TestForwardAuthRules(t *testing.T) {
	e := newEnv(t, withForwardAuth(forwardauth.Config{Rules: []forwardauth.Rule{
		{Host: "app.test", PathPrefix: "/admin", AAL: 2},
		{PathPrefix: "/billing", Scope: []string{"billing"}},
		{PathPrefix: "/settings", MaxAuthAge: 5 * time.Minute},
	}}, ForwardAuthHeaders{}))
	e.addUser("ivy", pw)
	b := e.loginCookie("ivy", pw)
	cookie := []string{"Cookie", "__Host-tessera_session=" + b.cookie}
	for _, tc := range []struct {
		uri    string
		host   string
		want   int
		reason string
	}{
		{"/", "app.test", 200, ""},
		{"/admin", "app.test", 403, forwardauth.ReasonAAL},
		{"/admin/users?x=1", "APP.test", 403, forwardauth.ReasonAAL},
		{"/public/../admin/x", "app.test", 403, forwardauth.ReasonAAL},
		{"/%61dmin", "app.test", 403, forwardauth.ReasonAAL},
		{"//admin", "app.test", 403, forwardauth.ReasonAAL},
		{"/%zz", "app.test", 403, forwardauth.ReasonAAL}, // undecodable: every rule
		{"/administrator", "app.test", 200, ""},
		{"/admin", "other.test", 200, ""},
		{"/billing/x", "other.test", 403, forwardauth.ReasonScope},
		{"/settings", "app.test", 200, ""},
	} {
		r := e.do(e.public, "GET", "/v1/auth/verify", nil, append([]string{"X-Forwarded-Method", "GET", "X-Forwarded-Uri", tc.uri,
			"X-Forwarded-Host", tc.host, "X-Forwarded-Proto", "https"}, cookie...)...)
		if r.StatusCode != tc.want {
			t.Fatalf("%s%s: %d, want %d: %s", tc.host, tc.uri, r.StatusCode, tc.want, r.body)
		}
		if tc.reason != "" {
			wantVerify(t, r, tc.want, tc.reason)
		}
	}
	e.clock.Add(6 * time.Minute)
	r := e.verify("GET", "/settings", cookie...)
	wantVerify(t, r, 403, forwardauth.ReasonAuthAge)
}

// A store that cannot answer is a 403, never a 200 (fail closed) and
// never a 5xx (nginx would answer 500).
func TestForwardAuthStoreDownIs403(t *testing.T) {
	e := newEnv(t)
	e.addUser("jo", pw)
	at := e.loginToken("jo", pw)
	e.st.Close()
	// What 5 failed feed polls do on a running node (as in
	// TestValidJWTFailsClosedWithoutStore).
	e.sessions.Follower().Distrust()
	for _, h := range [][]string{bearer(at)} {
		r := e.verify("GET", "/", h...)
		wantVerify(t, r, http.StatusForbidden, forwardauth.ReasonUnavailable)
		if r.Header.Get("WWW-Authenticate") != "" {
			t.Fatal("an outage asks for new credentials")
		}
	}
	if !strings.Contains(e.logs.String(), "forward auth could not check") {
		t.Fatal("outage not logged")
	}
}

// TestForwardAuthOneCredential: forward auth applies the one-credential
// rule (RFC 6750 §2, issue 10 L10) as the rest of the API does, within its
// 200/401/403 answers: a bearer token beside the session cookie is a
// malformed credential (401), never the identity of either (two
// Authorization headers go through the same s.credential; TestAmbiguousCredentials).
func TestForwardAuthOneCredential(t *testing.T) {
	e := newEnv(t, withForwardAuth(forwardauth.Config{}, ForwardAuthHeaders{}))
	e.addUser("gus", pw)
	b := e.loginCookie("gus", pw)
	at := e.loginToken("gus", pw)
	wantVerify(t, e.verify("GET", "/", "Cookie", "__Host-tessera_session="+b.cookie, "Authorization", "Bearer "+at), 401, forwardauth.ReasonBadCredential)
	wantVerify(t, e.verify("GET", "/", "Authorization", "Bearer "+at), 200, "")
}
