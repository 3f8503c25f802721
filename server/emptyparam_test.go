package server

import (
	"net/url"
	"testing"
)

// RFC 6749 §3.2: a parameter sent without a value is treated as omitted.
// zitadel/oidc's revocation sends client_id= beside HTTP Basic; it was
// refused as a client_id that does not match the authenticated client.
func TestEmptyParameterIsOmitted(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	r := e.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {""}, "scope": {""}}, basic(id, secret)...)
	if r.StatusCode != 200 {
		t.Fatalf("token with empty client_id and scope: %d %s", r.StatusCode, r.body)
	}
	at := r.json(t)["access_token"].(string)
	if r := e.form("/oauth2/revoke", url.Values{"token": {at}, "client_id": {""}, "token_type_hint": {""}}, basic(id, secret)...); r.StatusCode != 200 {
		t.Fatalf("revoke with empty client_id: %d %s", r.StatusCode, r.body)
	}
	// Still missing when required.
	wantOAuthError(t, e.token(url.Values{"grant_type": {""}}, basic(id, secret)...), 400, "invalid_request")
}
