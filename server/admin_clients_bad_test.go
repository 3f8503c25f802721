package server

import (
	"strings"
	"testing"
)

// TestAdminClientBadMetadata: a wrong type, a null or disagreeing RFC 7591
// aliases in a registration or update are a 400 problem, never a 500 nor
// silently taken as "left out".
func TestAdminClientBadMetadata(t *testing.T) {
	e := newEnv(t)
	id, _ := e.addClient(map[string]any{"client_name": "billing", "grant_types": []string{"client_credentials"}})
	for _, c := range []struct {
		name string
		body map[string]any
	}{
		{"first_party string", map[string]any{"first_party": "yes"}},
		{"first_party number", map[string]any{"first_party": 1}},
		{"first_party null", map[string]any{"first_party": nil}},
		{"revocation_feed string", map[string]any{"revocation_feed": "true"}},
		{"revocation_feed null", map[string]any{"revocation_feed": nil}},
		{"revocation_feed object", map[string]any{"revocation_feed": map[string]any{}}},
		{"names disagree", map[string]any{"client_name": "a", "name": "b"}},
		{"scopes disagree", map[string]any{"scope": "read", "scopes": []string{"write"}}},
		{"grants disagree", map[string]any{"grant_types": []string{"client_credentials"}, "grants": []string{"refresh_token"}}},
		{"client_name null", map[string]any{"client_name": nil}},
		{"huge name", map[string]any{"client_name": strings.Repeat("n", 100000)}},
	} {
		for _, m := range []struct{ method, path string }{{"POST", "/admin/v1/clients"}, {"PATCH", "/admin/v1/clients/" + id}} {
			body := map[string]any{"client_name": "x", "grant_types": []string{"client_credentials"}}
			if m.method == "PATCH" {
				body = map[string]any{}
			}
			for k, v := range c.body {
				body[k] = v
			}
			r := e.adminDo(m.method, m.path, body)
			if r.StatusCode != 400 && r.StatusCode != 413 {
				t.Errorf("%s %s: %d %s", m.method, c.name, r.StatusCode, r.body)
			}
			// A wrong or null value is named, so the caller can fix it.
			if field, _, _ := strings.Cut(c.name, " "); (field == "first_party" || field == "revocation_feed") && !strings.Contains(string(r.body), field) {
				t.Errorf("%s %s: the problem does not name the field: %s", m.method, c.name, r.body)
			}
		}
	}
}
