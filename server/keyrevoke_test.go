package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/keys"
)

// kidOf reads a JWT's kid without verifying it.
func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	head, err := base64.RawURLEncoding.DecodeString(strings.SplitN(jwt, ".", 2)[0])
	var h struct {
		KID string `json:"kid"`
	}
	if err != nil || json.Unmarshal(head, &h) != nil || h.KID == "" {
		t.Fatalf("no kid in %.20s…", jwt)
	}
	return h.KID
}

// TestAdminKeyRevoke (issue 10, M2a): revoking the signing key of a live
// access token through the admin API takes the key out of the JWKS and
// refuses the token at once — as a bearer credential, though it was just
// verified and sits in the verified-token cache, and in introspection —
// puts the kid on the revocation feed, and leaves a fresh active key that
// signs new tokens.
func TestAdminKeyRevoke(t *testing.T) {
	e := newEnv(t)
	e.addUser("kai", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}, "revocation_feed": true})
	at, _ := e.loginTokens("kai", nil)
	kid := kidOf(t, at)
	if r := e.whoami(bearer(at)...); r.StatusCode != 200 {
		t.Fatalf("before: %d %s", r.StatusCode, r.body)
	}
	if e.srv.verified.cache.Len() == 0 {
		t.Fatal("test premise: the token is in the verified-token cache")
	}
	wantProblem(t, e.adminDo("POST", "/admin/v1/keys/nope/revoke", nil), 404, "not_found")

	r := e.adminDo("POST", "/admin/v1/keys/"+kid+"/revoke", nil)
	m := r.json(t)
	if r.StatusCode != 200 || m["revoked_kid"] != kid || m["active_kid"] == kid || m["active_kid"] == "" {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	if r := e.whoami(bearer(at)...); r.StatusCode != 401 {
		t.Fatalf("a token signed by the revoked key: %d %s", r.StatusCode, r.body)
	}
	in := e.form("/oauth2/introspect", url.Values{"token": {at}}, basic(rsID, rsSecret)...)
	if in.StatusCode != 200 || in.json(t)["active"] != false {
		t.Fatalf("introspection: %d %s", in.StatusCode, in.body)
	}
	jwks := e.do(e.public, "GET", "/.well-known/jwks.json", nil)
	if strings.Contains(string(jwks.body), kid) {
		t.Fatal("the revoked key is still published")
	}
	var listed bool
	for _, k := range e.adminDo("GET", "/admin/v1/keys", nil).json(t)["keys"].([]any) {
		k := k.(map[string]any)
		if k["kid"] == kid {
			listed = k["revoked_at"] != nil && k["published"] == false
		}
	}
	if !listed {
		t.Fatal("the admin key list does not show the key revoked")
	}
	feed := e.do(e.public, "GET", "/v1/revocations", nil, basic(rsID, rsSecret)...).json(t)
	var onFeed bool
	for _, en := range feed["revocations"].([]any) {
		en := en.(map[string]any)
		onFeed = onFeed || (en["kid"] == kid && en["reason"] == keys.RevokeReason && en["sid"] == nil && en["jti"] == nil)
	}
	if !onFeed {
		t.Fatalf("no kid entry on the feed: %v", feed)
	}
	fresh, _ := e.loginTokens("kai", nil)
	if kidOf(t, fresh) != m["active_kid"] {
		t.Fatalf("new tokens signed by %s, want %s", kidOf(t, fresh), m["active_kid"])
	}
	if r := e.whoami(bearer(fresh)...); r.StatusCode != 200 {
		t.Fatalf("a token of the new active key: %d %s", r.StatusCode, r.body)
	}
}

// TestAdminRotateSafety: a second rotation right after the first is
// refused with 409 rotation_unsafe, names the way out, and changes
// nothing; ?force=true rotates.
func TestAdminRotateSafety(t *testing.T) {
	e := newEnv(t)
	e.clock.Add(time.Second)
	if r := e.adminDo("POST", "/admin/v1/keys/rotate", nil); r.StatusCode != 200 {
		t.Fatalf("first rotation: %d %s", r.StatusCode, r.body)
	}
	active := e.adminDo("POST", "/admin/v1/keys/rotate", nil)
	wantProblem(t, active, 409, "rotation_unsafe")
	if !strings.Contains(string(active.body), "force") {
		t.Fatalf("the refusal does not say how to force it: %s", active.body)
	}
	wantProblem(t, e.adminDo("POST", "/admin/v1/keys/rotate?force=maybe", nil), 400, "invalid_field")
	if r := e.adminDo("POST", "/admin/v1/keys/rotate?force=true", nil); r.StatusCode != 200 {
		t.Fatalf("forced rotation: %d %s", r.StatusCode, r.body)
	}
}

// TestGoldenKeyRevocationFeed pins the feed entry of a key revocation: a
// "kid" member and no "sid" or "jti", so followers that predate it skip it
// (run with -update to rewrite testdata/golden/revocations-key.json).
func TestGoldenKeyRevocationFeed(t *testing.T) {
	e := newEnv(t)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}, "revocation_feed": true})
	var next string
	for _, k := range e.adminDo("GET", "/admin/v1/keys", nil).json(t)["keys"].([]any) {
		if k := k.(map[string]any); k["state"] == "next" {
			next = k["kid"].(string)
		}
	}
	e.clock.Add(time.Second)
	if r := e.adminDo("POST", "/admin/v1/keys/"+next+"/revoke", nil); r.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	r := e.do(e.public, "GET", "/v1/revocations", nil, basic(rsID, rsSecret)...)
	if r.StatusCode != 200 {
		t.Fatalf("feed: %d %s", r.StatusCode, r.body)
	}
	got := newNormalizer().normalize(t, r.body)
	path := filepath.Join("testdata", "golden", "revocations-key.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenKeyRevocationFeed -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file\n got %s\nwant %s", path, got, want)
	}
}
