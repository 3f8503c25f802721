package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestSessionManagementNeedsFirstPartyOrScope (issue 10, L14): a
// third-party access token granted "read" can no longer list or end the
// user's sessions or change the password; the user's own credentials and
// the first party's tokens can, and so can a token granted the scope.
// On main every one of these answered 2xx.
func TestSessionManagementNeedsFirstPartyOrScope(t *testing.T) {
	e := newEnv(t)
	e.addUser("ada", pw)
	reader, _ := e.addClient(map[string]any{"name": "reader", "grants": []string{"refresh_token"}, "public": true, "first_party": true, "scopes": []string{"read"}})
	opaque, _ := e.addClient(map[string]any{"name": "reader-opaque", "grants": []string{"refresh_token"}, "public": true, "first_party": true, "scopes": []string{"read"}, "token_format": "opaque"})
	manager, _ := e.addClient(map[string]any{"name": "manager", "grants": []string{"refresh_token"}, "public": true, "first_party": true, "scopes": []string{"read", "sessions"}})
	browser := e.loginCookie("ada", pw)
	whoami := e.whoami("Cookie", "__Host-tessera_session="+browser.cookie).json(t)
	browserSID := whoami["session"].(map[string]any)["id"].(string)

	pwBody := map[string]string{"current_password": pw, "new_password": "another long passphrase"}
	for _, client := range []string{reader, opaque} {
		at, _ := e.loginTokens("ada", map[string]string{"client_id": client})
		for _, c := range []struct{ method, path, scope string }{
			{"GET", "/v1/sessions", "sessions"},
			{"POST", "/v1/sessions/revoke-others", "sessions"},
			{"DELETE", "/v1/sessions/" + browserSID, "sessions"},
			{"POST", "/v1/password", ""},
		} {
			var body any
			if c.path == "/v1/password" {
				body = pwBody
			}
			r := e.do(e.public, c.method, c.path, body, bearer(at)...)
			wantProblem(t, r, http.StatusForbidden, "insufficient_scope")
			want := `Bearer realm="tessera", error="insufficient_scope"`
			if c.scope != "" {
				want += `, scope="` + c.scope + `"`
			}
			if got := r.Header.Get("WWW-Authenticate"); got != want {
				t.Fatalf("%s %s: WWW-Authenticate %q, want %q", c.method, c.path, got, want)
			}
		}
		// What the token is for still works: who am I, and ending its own session.
		if r := e.whoami(bearer(at)...); r.StatusCode != http.StatusOK {
			t.Fatalf("whoami: %d %s", r.StatusCode, r.body)
		}
		if r := e.do(e.public, "POST", "/v1/logout", nil, bearer(at)...); r.StatusCode != http.StatusNoContent {
			t.Fatalf("logout of its own session: %d %s", r.StatusCode, r.body)
		}
	}
	if r := e.whoami("Cookie", "__Host-tessera_session="+browser.cookie); r.StatusCode != http.StatusOK {
		t.Fatalf("a refused token ended the browser session: %d", r.StatusCode)
	}

	// Granted "sessions" explicitly: it may manage sessions. Not the
	// password, whatever its scope: the answer is a fresh first-party
	// session, no other client's to hold.
	mat, _ := e.loginTokens("ada", map[string]string{"client_id": manager})
	if r := e.do(e.public, "GET", "/v1/sessions", nil, bearer(mat)...); r.StatusCode != http.StatusOK {
		t.Fatalf("sessions scope: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.do(e.public, "POST", "/v1/password", pwBody, bearer(mat)...), http.StatusForbidden, "insufficient_scope")
	pwClient, _ := e.addClient(map[string]any{"name": "pw", "grants": []string{"refresh_token"}, "public": true, "first_party": true, "scopes": []string{"password", "sessions"}})
	pat, _ := e.loginTokens("ada", map[string]string{"client_id": pwClient})
	wantProblem(t, e.do(e.public, "POST", "/v1/password", pwBody, bearer(pat)...), http.StatusForbidden, "insufficient_scope")

	// The first party's access token and session credentials may do all.
	fat, _ := e.loginTokens("ada", nil)
	if r := e.do(e.public, "GET", "/v1/sessions", nil, bearer(fat)...); r.StatusCode != http.StatusOK {
		t.Fatalf("first-party token: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(e.public, "GET", "/v1/sessions", nil, "Cookie", "__Host-tessera_session="+browser.cookie); r.StatusCode != http.StatusOK {
		t.Fatalf("cookie: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(e.public, "POST", "/v1/sessions/revoke-others", nil, bearer(fat)...); r.StatusCode != http.StatusOK {
		t.Fatalf("first-party revoke-others: %d %s", r.StatusCode, r.body)
	}
}

// TestFirstPartyIsAClient: OAuth libraries always send a client_id; the
// first party's is "tessera" (the client_id its tokens carry), accepted at
// the token and revocation endpoints as a public client and listed with
// the clients. On main client_id=tessera was an unknown client.
func TestFirstPartyIsAClient(t *testing.T) {
	e := newEnv(t)
	e.addUser("bo", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "rs", "grants": []string{"client_credentials"}})
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true})

	_, rt := e.loginTokens("bo", nil)
	r := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"tessera"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("refresh with client_id=tessera: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	at, rt := m["access_token"].(string), m["refresh_token"].(string)
	if r.Header.Get("Pragma") != "no-cache" {
		t.Fatal("token answer without Pragma: no-cache")
	}
	if in := e.form("/oauth2/introspect", url.Values{"token": {at}}, basic(rsID, rsSecret)...).json(t); in["client_id"] != "tessera" {
		t.Fatalf("first-party token's client_id: %v", in)
	}
	// HTTP Basic with an empty secret is the same public client.
	r = e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic("tessera", "")...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("refresh with Basic tessera: %d %s", r.StatusCode, r.body)
	}
	rt = r.json(t)["refresh_token"].(string)
	// Revocation names it too, and ends the family.
	if r := e.form("/oauth2/revoke", url.Values{"token": {rt}, "client_id": {"tessera"}}); r.StatusCode != http.StatusOK {
		t.Fatalf("revoke with client_id=tessera: %d %s", r.StatusCode, r.body)
	}
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}), http.StatusBadRequest, "invalid_grant")

	// A public client: no secret, no introspection, no client_credentials,
	// and no other client's refresh tokens.
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, basic("tessera", "a-secret")...), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, e.form("/oauth2/introspect", url.Values{"token": {at}, "client_id": {"tessera"}}), http.StatusUnauthorized, "invalid_client")
	wantOAuthError(t, e.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"tessera"}}), http.StatusBadRequest, "unauthorized_client")
	_, spaRT := e.loginTokens("bo", map[string]string{"client_id": spa})
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {spaRT}, "client_id": {"tessera"}}), http.StatusBadRequest, "invalid_grant")

	// /v1/login may name it: the same first-party tokens as naming none.
	_, rt = e.loginTokens("bo", map[string]string{"client_id": "tessera"})
	if r := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); r.StatusCode != http.StatusOK {
		t.Fatalf("refresh of a login naming tessera: %d %s", r.StatusCode, r.body)
	}

	// Listed, first.
	cs := e.adminDo("GET", "/admin/v1/clients", nil).json(t)["clients"].([]any)
	fp := cs[0].(map[string]any)
	if len(cs) != 3 || fp["client_id"] != "tessera" || fp["public"] != true || fp["first_party"] != true || fp["created_at"] != nil || cs[1].(map[string]any)["created_at"] == nil || strings.Join(toStrings(fp["grants"]), ",") != "refresh_token" {
		t.Fatalf("clients: %v", cs)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestRevokeConfidentialTokenNeedsAuthentication: RFC 7009 §2.1 has the
// client authenticate; a confidential client's token revoked without its
// credentials is 401 invalid_client (RFC 6749 §5.2), not 400
// unauthorized_client as on main.
func TestRevokeConfidentialTokenNeedsAuthentication(t *testing.T) {
	e := newEnv(t)
	svc, svcSecret := e.addClient(map[string]any{"name": "svc", "grants": []string{"client_credentials"}})
	opq, opqSecret := e.addClient(map[string]any{"name": "svc-opaque", "grants": []string{"client_credentials"}, "token_format": "opaque"})
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true})
	for _, c := range [][2]string{{svc, svcSecret}, {opq, opqSecret}} {
		at := e.token(url.Values{"grant_type": {"client_credentials"}}, basic(c[0], c[1])...).json(t)["access_token"].(string)
		for _, who := range [][]string{nil, {"X-Unused", "x"}} {
			form := url.Values{"token": {at}}
			if who != nil {
				form.Set("client_id", spa) // a public client is not authenticated either
			}
			r := e.form("/oauth2/revoke", form)
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic ") {
				t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
			}
		}
		if r := e.form("/oauth2/revoke", url.Values{"token": {at}}, basic(c[0], c[1])...); r.StatusCode != http.StatusOK {
			t.Fatalf("the owner revokes: %d %s", r.StatusCode, r.body)
		}
	}
}

// TestOpaqueIntrospectionCarriesAud: an opaque token's introspection
// names its audience as a JWT of the same grant would (missing on main).
func TestOpaqueIntrospectionCarriesAud(t *testing.T) {
	e := newEnv(t)
	rs, rsSecret := e.addClient(map[string]any{"name": "rs", "grants": []string{"client_credentials"}})
	svc, svcSecret := e.addClient(map[string]any{"name": "legacy", "grants": []string{"client_credentials"}, "token_format": "opaque"})
	at := e.token(url.Values{"grant_type": {"client_credentials"}}, basic(svc, svcSecret)...).json(t)["access_token"].(string)
	m := e.form("/oauth2/introspect", url.Values{"token": {at}}, basic(rs, rsSecret)...).json(t)
	if m["active"] != true || m["aud"] != "https://auth.example.test" {
		t.Fatalf("opaque introspection: %v", m)
	}
}

// TestTokenAnswersSendPragma: every answer carrying a token (or a secret)
// sends Pragma: no-cache with Cache-Control: no-store (RFC 6749 §5.1).
// On main only /oauth2/token did.
func TestTokenAnswersSendPragma(t *testing.T) {
	e := newEnv(t)
	e.addUser("cal", pw)
	check := func(name string, r resp) {
		t.Helper()
		if r.StatusCode >= 300 || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
			t.Fatalf("%s: %d Cache-Control %q Pragma %q", name, r.StatusCode, r.Header.Get("Cache-Control"), r.Header.Get("Pragma"))
		}
	}
	check("login, token delivery", e.do(e.public, "POST", "/v1/login", map[string]string{"username": "cal", "password": pw, "delivery": "token"}))
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "cal", "password": pw})
	check("login, cookie delivery", r)
	at := e.loginToken("cal", pw)
	check("password change", e.do(e.public, "POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "another long passphrase"}, bearer(at)...))
	check("client registration", e.adminDo("POST", "/admin/v1/clients", map[string]any{"name": "svc", "grants": []string{"client_credentials"}}))
}

// TestMetadataScopesAndIssuerPath: RFC 8414 scopes_supported, and for an
// issuer with a path the metadata at the §3.1 location (404 on main).
func TestMetadataScopesAndIssuerPath(t *testing.T) {
	e := newEnv(t)
	e.addClient(map[string]any{"name": "svc", "grants": []string{"client_credentials"}, "scopes": []string{"orders:read", "read"}})
	e.addClient(map[string]any{"name": "app", "grants": []string{"refresh_token"}, "public": true, "first_party": true, "scopes": []string{"read"}})
	m := e.do(e.public, "GET", "/.well-known/oauth-authorization-server", nil).json(t)
	if got := strings.Join(toStrings(m["scopes_supported"]), " "); got != "orders:read read sessions" {
		t.Fatalf("scopes_supported %q", got)
	}

	e.srv.oauthCfg.Issuer = "https://auth.example.test/tenant-a"
	ts := httptest.NewServer(e.srv.Public())
	defer ts.Close()
	r := e.do(ts, "GET", "/.well-known/oauth-authorization-server/tenant-a", nil)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("RFC 8414 §3.1 location: %d %s", r.StatusCode, r.body)
	}
	if m := r.json(t); m["issuer"] != "https://auth.example.test/tenant-a" || m["token_endpoint"] != "https://auth.example.test/tenant-a/oauth2/token" {
		t.Fatalf("metadata %v", m)
	}
	wantProblem(t, e.do(ts, "GET", "/.well-known/oauth-authorization-server/tenant-b", nil), http.StatusNotFound, "not_found")
}

// TestClientSecretsSurviveBasic: an operator-chosen secret holds only
// characters form encoding leaves alone (RFC 6749 §2.3.1), so it reads the
// same whether a library encodes it for HTTP Basic or not. On main "+" and
// ":" were accepted, and a library that did not encode failed to log in.
func TestClientSecretsSurviveBasic(t *testing.T) {
	e := newEnv(t)
	for _, secret := range []string{strings.Repeat("a", 31) + "+", strings.Repeat("b", 31) + ":", strings.Repeat("c", 31) + " ", strings.Repeat("d", 31) + "%", strings.Repeat("é", 20)} {
		r := e.adminDo("POST", "/admin/v1/clients", map[string]any{"name": "svc" + secret[len(secret)-1:], "grants": []string{"client_credentials"}, "client_secret": secret})
		wantProblem(t, r, http.StatusBadRequest, "invalid_client_metadata")
	}
	secret := "Abc-123._~" + strings.Repeat("x", 30)
	r := e.adminDo("POST", "/admin/v1/clients", map[string]any{"name": "ok", "grants": []string{"client_credentials"}, "client_secret": secret})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("unreserved secret: %d %s", r.StatusCode, r.body)
	}
	id := r.json(t)["client_id"].(string)
	req, _ := http.NewRequest("POST", e.public.URL+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", formType)
	req.SetBasicAuth(id, secret) // raw, not form-encoded: the same bytes
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("raw Basic: %d", res.StatusCode)
	}
}
