package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// raw sends a request whose headers may repeat (e.do sets each once).
func (e *env) raw(base *httptest.Server, method, path, body string, headers http.Header) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range headers {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res, b}
}

// TestAmbiguousCredentials: a request presenting more than one credential
// is refused with 400 invalid_request (RFC 6750 §2; issue 10, L10), never
// resolved by a guess. On main the first Authorization header, or the
// bearer token over the cookie, won.
func TestAmbiguousCredentials(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", pw)
	e.addUser("ben", pw)
	ann := e.loginCookie("ann", pw)
	benTok := e.loginToken("ben", pw)
	annTok := e.loginToken("ann", pw)
	const challenge = `Bearer realm="tessera", error="invalid_request"`
	tests := []struct {
		name string
		h    http.Header
	}{
		{"two authorization headers", http.Header{"Authorization": {"Bearer " + annTok, "Bearer " + benTok}}},
		{"the same bearer twice", http.Header{"Authorization": {"Bearer " + annTok, "Bearer " + annTok}}},
		{"bearer and basic", http.Header{"Authorization": {"Basic Ym9iOnB3", "Bearer " + annTok}}},
		{"bearer and cookie", http.Header{"Authorization": {"Bearer " + benTok}, "Cookie": {"__Host-tessera_session=" + ann.cookie}}},
		{"two session cookies", http.Header{"Cookie": {"__Host-tessera_session=" + ann.cookie + "; __Host-tessera_session=tss_planted"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.raw(e.public, "GET", "/v1/session", "", tt.h)
			wantProblem(t, r, http.StatusBadRequest, "invalid_request")
			if got := r.Header.Get("WWW-Authenticate"); got != challenge {
				t.Fatalf("WWW-Authenticate %q", got)
			}
		})
	}
	// A state change is refused before it happens.
	h := http.Header{"Authorization": {"Bearer " + benTok}, "Cookie": {"__Host-tessera_session=" + ann.cookie}}
	wantProblem(t, e.raw(e.public, "POST", "/v1/logout", "", h), http.StatusBadRequest, "invalid_request")
	// Login follows the same rule: it would end the presented session,
	// and which one is ambiguous; nothing is ended, no session starts.
	h = http.Header{"Authorization": {"Bearer " + benTok}, "Cookie": {"__Host-tessera_session=" + ann.cookie}, "Content-Type": {"application/json"}}
	r := e.raw(e.public, "POST", "/v1/login", `{"username":"ann","password":"`+pw+`"}`, h)
	wantProblem(t, r, http.StatusBadRequest, "invalid_request")
	if r.cookie("__Host-tessera_session") != nil {
		t.Fatal("an ambiguous login started a session")
	}
	for _, c := range [][]string{bearer(benTok), bearer(annTok), {"Cookie", "__Host-tessera_session=" + ann.cookie}} {
		if w := e.whoami(c...); w.StatusCode != http.StatusOK {
			t.Fatalf("a refused request ended a session: %d %s", w.StatusCode, w.body)
		}
	}
	// The OAuth endpoints and the admin API read the header by the same rule.
	id, secret := e.addClient(map[string]any{"name": "rs", "grants": []string{"client_credentials"}})
	two := basic(id, secret)[1]
	r = e.raw(e.public, "POST", "/oauth2/token", "grant_type=client_credentials", http.Header{
		"Authorization": {two, two}, "Content-Type": {"application/x-www-form-urlencoded"}})
	wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
	r = e.raw(e.admin, "GET", "/admin/v1/users", "", http.Header{"Authorization": {"Bearer " + adminToken, "Bearer " + adminToken}})
	wantProblem(t, r, http.StatusBadRequest, "invalid_request")
	// One of each still works.
	if r := e.form("/oauth2/introspect", url.Values{"token": {annTok}}, basic(id, secret)...); r.StatusCode != http.StatusOK {
		t.Fatalf("introspect: %d %s", r.StatusCode, r.body)
	}
}

// TestBearerSchemeNeedsASpace: RFC 7235 §2.1 separates the scheme from its
// token68 by 1*SP. "Bearer<TAB><token>" is a malformed Bearer header (400,
// as L13 answers every malformed one); on main it was "no credential"
// (401, or worse, the cookie was used instead).
func TestBearerSchemeNeedsASpace(t *testing.T) {
	e := newEnv(t)
	e.addUser("cy", pw)
	tok := e.loginToken("cy", pw)
	for _, h := range []string{"Bearer\t" + tok, "Bearer," + tok, "bearer\t\t" + tok} {
		r := e.whoami("Authorization", h)
		wantProblem(t, r, http.StatusBadRequest, "invalid_request")
	}
	// Another scheme that merely starts with "Bearer" is another scheme.
	wantProblem(t, e.whoami("Authorization", "Bearerx "+tok), http.StatusUnauthorized, "unauthenticated")
	if r := e.whoami("Authorization", "bEaReR  "+tok); r.StatusCode != http.StatusOK {
		t.Fatalf("case-insensitive scheme, two spaces: %d %s", r.StatusCode, r.body)
	}
}

// TestEveryAnswerGoesThroughTheFunnel: the admin API's 401, the feed's
// Basic challenge and a recovered panic are rendered by the one funnel.
// On main the feed's `Basic` challenge was overwritten with `Bearer`, the
// admin 401 carried no Cache-Control, and a panic's 500 kept a cookie the
// handler had set before it failed.
func TestEveryAnswerGoesThroughTheFunnel(t *testing.T) {
	e := newEnv(t)
	r := e.do(e.public, "GET", "/v1/revocations", nil)
	wantProblem(t, r, http.StatusUnauthorized, "invalid_client")
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
		t.Fatalf("feed challenge %q, want HTTP Basic (RFC 7617)", got)
	}
	r = e.do(e.public, "GET", "/v1/revocations", nil, basic("nobody", "wrong-secret-wrong-secret-wrong-secret")...)
	if got := r.Header.Get("WWW-Authenticate"); r.StatusCode != 401 || !strings.HasPrefix(got, "Basic ") {
		t.Fatalf("feed, bad client: %d %q", r.StatusCode, got)
	}

	r = e.do(e.admin, "GET", "/admin/v1/users", nil)
	wantProblem(t, r, http.StatusUnauthorized, "unauthenticated")
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("WWW-Authenticate") != `Bearer realm="tessera-admin"` {
		t.Fatalf("admin 401 headers: %v", r.Header)
	}
	wantProblem(t, e.do(e.admin, "GET", "/admin/v1/users", nil, "Authorization", "Bearer\t"+adminToken), http.StatusBadRequest, "invalid_request")

	h := e.srv.common("public", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "half", Value: "written"})
		panic("boom")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Type") != "application/problem+json" ||
		w.Header().Get("Set-Cookie") != "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("panic answer: %d %v", w.Code, w.Header())
	}
	if !strings.Contains(e.logs.String(), `"msg":"request failed"`) || !strings.Contains(e.logs.String(), "panic serving request: boom") {
		t.Fatalf("the panic was not logged by the funnel:\n%s", e.logs)
	}
}
