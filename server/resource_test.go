package server

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// audOf reads a JWT's aud without verifying it.
func audOf(t *testing.T, jwt string) any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Aud any `json:"aud"`
	}
	if err != nil || json.Unmarshal(body, &c) != nil {
		t.Fatalf("undecodable JWT body")
	}
	return c.Aud
}

// TestIntrospectionIsAPermission (issue 10, L3): a confidential client
// registered without the introspect permission is refused (403
// unauthorized_client); the admin API shows the permission.
func TestIntrospectionIsAPermission(t *testing.T) {
	e := newEnv(t)
	e.addUser("rae", pw)
	at, _ := e.loginTokens("rae", nil)
	r := e.adminDo("POST", "/admin/v1/clients", map[string]any{"name": "billing", "grants": []string{"client_credentials"}})
	m := r.json(t)
	if r.StatusCode != 201 || m["introspect"] != false {
		t.Fatalf("register: %d %s", r.StatusCode, r.body)
	}
	wantOAuthError(t, e.form("/oauth2/introspect", url.Values{"token": {at}}, basic(m["client_id"].(string), m["client_secret"].(string))...), 403, "unauthorized_client")
	wantProblem(t, e.adminDo("POST", "/admin/v1/clients", map[string]any{"name": "spa", "public": true, "grants": []string{"refresh_token"}, "introspect": true}), 400, "invalid_client_metadata")
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}, "introspect": true})
	if r := e.form("/oauth2/introspect", url.Values{"token": {at}}, basic(rsID, rsSecret)...); r.StatusCode != 200 || r.json(t)["active"] != true {
		t.Fatalf("permitted client: %d %s", r.StatusCode, r.body)
	}
}

// TestResourceIndicators (issue 10, L3; RFC 8707): a client may ask for
// access tokens restricted to one of its registered resources; the token's
// aud is that resource only; a resource it was not given is invalid_target;
// introspection shows the token active only to the resource server that
// serves it (an unrestricted token stays active for every one); and a
// restricted token is no bearer credential for Tessera's own API.
func TestResourceIndicators(t *testing.T) {
	e := newEnv(t)
	e.addUser("sam", pw)
	const notes, files = "https://notes.example", "https://files.example"
	worker, workerSecret := e.addClient(map[string]any{"name": "worker", "grants": []string{"client_credentials"}, "introspect": false, "resources": []string{notes}})
	notesID, notesSecret := e.addClient(map[string]any{"name": "notes-api", "grants": []string{"client_credentials"}, "audience": notes})
	filesID, filesSecret := e.addClient(map[string]any{"name": "files-api", "grants": []string{"client_credentials"}, "audience": files})
	plainID, plainSecret := e.addClient(map[string]any{"name": "plain-api", "grants": []string{"client_credentials"}})
	spa, _ := e.addClient(map[string]any{"name": "spa", "public": true, "first_party": true, "grants": []string{"refresh_token"}, "resources": []string{notes}})
	wantProblem(t, e.adminDo("POST", "/admin/v1/clients", map[string]any{"name": "bad", "resources": []string{"notes"}}), 400, "invalid_client_metadata")

	r := e.token(url.Values{"grant_type": {"client_credentials"}, "resource": {notes}}, basic(worker, workerSecret)...)
	if r.StatusCode != 200 {
		t.Fatalf("client_credentials for %s: %d %s", notes, r.StatusCode, r.body)
	}
	restricted := r.json(t)["access_token"].(string)
	if aud := audOf(t, restricted); aud != notes {
		t.Fatalf("aud %v, want %s", aud, notes)
	}
	wantOAuthError(t, e.token(url.Values{"grant_type": {"client_credentials"}, "resource": {files}}, basic(worker, workerSecret)...), 400, "invalid_target")
	wantOAuthError(t, e.token(url.Values{"grant_type": {"client_credentials"}, "resource": {"https://notes.example#x"}}, basic(worker, workerSecret)...), 400, "invalid_target")

	active := func(tok, id, secret string) bool {
		r := e.form("/oauth2/introspect", url.Values{"token": {tok}}, basic(id, secret)...)
		if r.StatusCode != 200 {
			t.Fatalf("introspect: %d %s", r.StatusCode, r.body)
		}
		return r.json(t)["active"] == true
	}
	if !active(restricted, notesID, notesSecret) || active(restricted, filesID, filesSecret) || active(restricted, plainID, plainSecret) {
		t.Fatal("a restricted token's introspection is not limited to its resource server")
	}
	plain := e.token(url.Values{"grant_type": {"client_credentials"}}, basic(worker, workerSecret)...).json(t)["access_token"].(string)
	if !active(plain, notesID, notesSecret) || !active(plain, filesID, filesSecret) || !active(plain, plainID, plainSecret) {
		t.Fatal("an unrestricted token is not active for every resource server")
	}

	// A user's token refreshed for a resource: not a credential for /v1.
	_, rt := e.loginTokens("sam", map[string]string{"client_id": spa})
	r = e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}, "resource": {notes}})
	if r.StatusCode != 200 {
		t.Fatalf("refresh for %s: %d %s", notes, r.StatusCode, r.body)
	}
	userTok := r.json(t)["access_token"].(string)
	if r := e.whoami(bearer(userTok)...); r.StatusCode != 401 {
		t.Fatalf("a token for %s is a credential for Tessera's API: %d", notes, r.StatusCode)
	}
	if !active(userTok, notesID, notesSecret) || active(userTok, filesID, filesSecret) {
		t.Fatal("the refreshed restricted token's introspection")
	}
}
