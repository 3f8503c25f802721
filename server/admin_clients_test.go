package server

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestAdminClientRFC7591: registration in RFC 7591 names (and the older
// aliases), validation, read and update.
func TestAdminClientRFC7591(t *testing.T) {
	e := newEnv(t)
	r := e.adminDo("POST", "/admin/v1/clients", map[string]any{
		"client_name": "billing", "grant_types": []string{"client_credentials"}, "scope": "read write",
		"token_endpoint_auth_method": "client_secret_post", "redirect_uris": []string{"https://billing.example/cb"},
	})
	if r.StatusCode != 201 {
		t.Fatalf("register: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	if m["client_name"] != "billing" || m["scope"] != "read write" || m["token_endpoint_auth_method"] != "client_secret_post" ||
		m["client_secret_expires_at"] != float64(0) || m["client_id_issued_at"] == nil || len(m["redirect_uris"].([]any)) != 1 ||
		m["name"] != "billing" || len(m["scopes"].([]any)) != 2 {
		t.Fatalf("RFC 7591 answer: %s", r.body)
	}
	id := m["client_id"].(string)
	// The aliases still work, and must agree with the RFC names.
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true})
	if r := e.adminDo("GET", "/admin/v1/clients/"+spa, nil); r.json(t)["token_endpoint_auth_method"] != "none" {
		t.Fatalf("public alias: %s", r.body)
	}
	wantProblem(t, e.adminDo("POST", "/admin/v1/clients", map[string]any{"client_name": "a", "name": "b"}), 400, "invalid_client_metadata")
	wantProblem(t, e.adminDo("POST", "/admin/v1/clients", map[string]any{"client_name": "x", "redirect_uris": []string{"http://evil.example/cb"}}), 400, "invalid_redirect_uri")
	wantProblem(t, e.adminDo("POST", "/admin/v1/clients", map[string]any{"client_name": "x", "grant_types": []string{"implicit"}}), 400, "invalid_client_metadata")

	r = e.adminDo("PATCH", "/admin/v1/clients/"+id, map[string]any{"scope": "read", "redirect_uris": []string{"https://billing.example/cb2"}})
	if r.StatusCode != 200 || r.json(t)["scope"] != "read" || r.json(t)["client_name"] != "billing" {
		t.Fatalf("patch: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.adminDo("PATCH", "/admin/v1/clients/"+id, map[string]any{"client_secret": "x"}), 400, "invalid_client_metadata")
	wantProblem(t, e.adminDo("GET", "/admin/v1/clients/nope", nil), 404, "not_found")
	if r := e.adminDo("GET", "/admin/v1/clients", nil); len(r.json(t)["clients"].([]any)) != 3 { // the first party, billing, spa
		t.Fatalf("list: %s", r.body)
	}
}

// TestAdminClientSecretRotation: the old secret works at the token
// endpoint until the overlap ends, the new one at once.
func TestAdminClientSecretRotation(t *testing.T) {
	e := newEnv(t)
	id, old := e.addClient(map[string]any{"client_name": "svc", "grant_types": []string{"client_credentials"}})
	r := e.adminDo("POST", "/admin/v1/clients/"+id+"/secret", map[string]any{"overlap_seconds": 3600})
	if r.StatusCode != 200 || r.json(t)["old_secret_valid_until"] == nil {
		t.Fatalf("rotate: %d %s", r.StatusCode, r.body)
	}
	cur := r.json(t)["client_secret"].(string)
	cc := url.Values{"grant_type": {"client_credentials"}}
	for _, sec := range []string{old, cur} {
		if r := e.token(cc, basic(id, sec)...); r.StatusCode != 200 {
			t.Fatalf("during the overlap: %d %s", r.StatusCode, r.body)
		}
	}
	e.clock.Add(time.Hour)
	wantOAuthError(t, e.token(cc, basic(id, old)...), 401, "invalid_client")
	if r := e.token(cc, basic(id, cur)...); r.StatusCode != 200 {
		t.Fatalf("new secret: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.adminDo("POST", "/admin/v1/clients/"+id+"/secret", map[string]any{"overlap_seconds": -1}), 400, "invalid_field")
}

// TestAdminClientDelete: deleting a client revokes its tokens at once:
// refresh tokens, the sessions behind them and their access tokens.
func TestAdminClientDelete(t *testing.T) {
	e := newEnv(t)
	e.addUser("ann", pw)
	rs, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	spa, _ := e.addClient(map[string]any{"client_name": "spa", "grant_types": []string{"refresh_token"}, "token_endpoint_auth_method": "none", "first_party": true}) // JWT access tokens: refused through their revoked session
	at, rt := e.loginTokens("ann", map[string]string{"client_id": spa})
	if r := e.whoami(bearer(at)...); r.StatusCode != 200 {
		t.Fatalf("whoami before: %d", r.StatusCode)
	}
	r := e.adminDo("DELETE", "/admin/v1/clients/"+spa, nil)
	if r.StatusCode != 200 || r.json(t)["revoked_sessions"] != float64(1) {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	if r := e.whoami(bearer(at)...); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("access token after delete: %d", r.StatusCode)
	}
	intro := e.form("/oauth2/introspect", url.Values{"token": {at}}, basic(rs, rsSecret)...)
	if intro.json(t)["active"] != false {
		t.Fatalf("introspection after delete: %s", intro.body)
	}
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}}), 400, "invalid_client")
	wantProblem(t, e.adminDo("DELETE", "/admin/v1/clients/"+spa, nil), 404, "not_found")
}
