package server

import (
	"encoding/base64"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const formType = "application/x-www-form-urlencoded"

func (e *env) token(form url.Values, headers ...string) resp {
	e.t.Helper()
	return e.do(e.public, "POST", "/oauth2/token", form.Encode(), append([]string{"Content-Type", formType}, headers...)...)
}

func basic(id, secret string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}
}

func wantOAuthError(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, status, r.body)
	}
	m := r.json(t)
	if m["error"] != code || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("error body %v (want %q), headers %v", m, code, r.Header)
	}
	if strings.Contains(string(r.body), "tsr_") || strings.Contains(string(r.body), "tsc_") {
		t.Fatal("a token or secret echoed in an error")
	}
}

// addClient registers a client through the admin API. A confidential
// test client may introspect unless body says "introspect" itself (the
// permission is off by default for real registrations).
func (e *env) addClient(body map[string]any) (id, secret string) {
	e.t.Helper()
	if _, set := body["introspect"]; !set && body["public"] != true && body["token_endpoint_auth_method"] != "none" {
		body["introspect"] = true
	}
	r := e.adminDo("POST", "/admin/v1/clients", body)
	if r.StatusCode != 201 {
		e.t.Fatalf("register client: %d %s", r.StatusCode, r.body)
	}
	m := r.json(e.t)
	secret, _ = m["client_secret"].(string)
	return m["client_id"].(string), secret
}

func TestClientCredentialsGrant(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(map[string]any{"name": "billing", "grants": []string{"client_credentials"}, "scopes": []string{"invoices:read", "invoices:write"}})
	if !strings.HasPrefix(secret, "tsc_") {
		t.Fatalf("generated secret %q", secret)
	}
	r := e.token(url.Values{"grant_type": {"client_credentials"}}, basic(id, secret)...)
	if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("client_credentials: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	if m["scope"] != "invoices:read invoices:write" || m["token_type"] != "Bearer" || m["expires_in"] != float64(900) || m["refresh_token"] != nil {
		t.Fatalf("response %v", m)
	}
	claims, err := e.srv.atVerifier.Verify(m["access_token"].(string))
	if err != nil || claims.Subject != id || claims.ClientID != id || claims.SessionID != "" {
		t.Fatalf("access token claims %+v, %v", claims, err)
	}
	// client_secret_post works too, with a narrower scope.
	r = e.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"invoices:read"}})
	if r.StatusCode != 200 || r.json(t)["scope"] != "invoices:read" {
		t.Fatalf("client_secret_post: %d %s", r.StatusCode, r.body)
	}
	// A client_credentials token is not a user session.
	wantProblem(t, e.whoami(bearer(m["access_token"].(string))...), 401, "invalid_token")

	tests := []struct {
		name    string
		form    url.Values
		headers []string
		status  int
		code    string
	}{
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, basic(id, secret+"x"), 401, "invalid_client"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}}, basic("nope", secret), 401, "invalid_client"},
		{"wrong secret in body", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {"x"}}, nil, 400, "invalid_client"},
		{"no client", url.Values{"grant_type": {"client_credentials"}}, nil, 401, "invalid_client"},
		{"two auth methods", url.Values{"grant_type": {"client_credentials"}, "client_secret": {secret}}, basic(id, secret), 400, "invalid_request"},
		{"wider scope", url.Values{"grant_type": {"client_credentials"}, "scope": {"invoices:read admin"}}, basic(id, secret), 400, "invalid_scope"},
		{"bad scope syntax", url.Values{"grant_type": {"client_credentials"}, "scope": {"a\"b"}}, basic(id, secret), 400, "invalid_scope"},
		{"unknown grant", url.Values{"grant_type": {"password"}}, basic(id, secret), 400, "unsupported_grant_type"},
		{"no grant", url.Values{}, basic(id, secret), 400, "invalid_request"},
		{"refresh grant not allowed", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"tsr_x"}}, basic(id, secret), 400, "unauthorized_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantOAuthError(t, e.token(tt.form, tt.headers...), tt.status, tt.code) })
	}
	t.Run("repeated parameter", func(t *testing.T) {
		r := e.do(e.public, "POST", "/oauth2/token", "grant_type=client_credentials&grant_type=client_credentials", append([]string{"Content-Type", formType}, basic(id, secret)...)...)
		wantOAuthError(t, r, 400, "invalid_request")
	})
	t.Run("json body", func(t *testing.T) {
		r := e.do(e.public, "POST", "/oauth2/token", `{"grant_type":"client_credentials"}`, basic(id, secret)...)
		wantOAuthError(t, r, 400, "invalid_request")
	})
	t.Run("bad client metadata", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"name": "x", "grants": []string{"implicit"}},
			{"name": "y", "grants": []string{"client_credentials"}, "public": true},
			{"name": ""},
			{"name": "billing"},
			{"name": "z", "client_secret": "short"},
		} {
			wantProblem(t, e.adminDo("POST", "/admin/v1/clients", body), 400, "invalid_client_metadata")
		}
	})
}

func TestRefreshGrant(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	login := func(body map[string]string) (at, rt string) {
		body["username"], body["password"], body["delivery"] = "gina", pw, "token"
		r := e.do(e.public, "POST", "/v1/login", body)
		if r.StatusCode != 200 {
			t.Fatalf("login: %d %s", r.StatusCode, r.body)
		}
		m := r.json(t)
		return m["access_token"].(string), m["refresh_token"].(string)
	}
	refresh := func(rt string, headers ...string) resp {
		return e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, headers...)
	}
	at, rt1 := login(map[string]string{})
	r := refresh(rt1)
	if r.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.body)
	}
	rt2 := r.json(t)["refresh_token"].(string)
	if rt2 == rt1 || !strings.HasPrefix(rt2, "tsr_") {
		t.Fatal("refresh did not rotate the token")
	}
	// A retry within the grace window (the first answer was lost) works.
	e.clock.Add(2 * time.Second)
	if r := refresh(rt1); r.StatusCode != 200 {
		t.Fatalf("grace retry: %d %s", r.StatusCode, r.body)
	}
	// The same old token later is theft: the whole family dies, access tokens too.
	e.clock.Add(10 * time.Second)
	wantOAuthError(t, refresh(rt1), 400, "invalid_grant")
	wantOAuthError(t, refresh(rt2), 400, "invalid_grant")
	wantProblem(t, e.whoami(bearer(at)...), 401, "invalid_token")
	metrics := string(e.do(e.admin, "GET", "/metrics", nil).body)
	for _, want := range []string{"tessera_refresh_reuse_total 1", `tessera_sessions_revoked_total{reason="refresh_reuse"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	for name, tok := range map[string]string{"garbage": "nope", "wrong kind": "tss_" + rt2[4:], "unknown": "tsr_" + strings.Repeat("A", 49)} {
		t.Run(name, func(t *testing.T) { wantOAuthError(t, refresh(tok), 400, "invalid_grant") })
	}
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}}), 400, "invalid_request")

	// A public client's refresh tokens need its client_id; logout ends them.
	cid, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true, "scopes": []string{"profile"}})
	_, rt := login(map[string]string{"client_id": cid})
	wantOAuthError(t, refresh(rt), 400, "invalid_grant")
	r = e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {cid}})
	if r.StatusCode != 200 || r.json(t)["scope"] != "profile" {
		t.Fatalf("public client refresh: %d %s", r.StatusCode, r.body)
	}
	rt = r.json(t)["refresh_token"].(string)
	at = r.json(t)["access_token"].(string)
	if r := e.do(e.public, "POST", "/v1/logout", nil, bearer(at)...); r.StatusCode != 204 {
		t.Fatalf("logout with an access token: %d", r.StatusCode)
	}
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {cid}}), 400, "invalid_grant")
	wantProblem(t, e.do(e.public, "POST", "/v1/login", map[string]string{"username": "gina", "password": pw, "delivery": "token", "client_id": "nope"}), 400, "invalid_client")
}

// TestConcurrentRefreshOverHTTP: many clients racing one refresh token,
// outside any grace window: one wins, the family is revoked.
func TestConcurrentRefreshOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.addUser("hal", pw)
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "hal", "password": pw, "delivery": "token"})
	rt := r.json(t)["refresh_token"].(string)
	first := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if first.StatusCode != 200 {
		t.Fatal(string(first.body))
	}
	e.clock.Add(time.Minute) // past the grace window
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			mu.Lock()
			defer mu.Unlock()
			if r.StatusCode == 200 {
				ok++
			}
		}()
	}
	wg.Wait()
	if ok != 0 {
		t.Fatalf("%d replays of a rotated token succeeded", ok)
	}
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.json(t)["refresh_token"].(string)}}), 400, "invalid_grant")
}
