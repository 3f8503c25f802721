package server

import (
	"net/url"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/keys"
)

// TestRevokeJWTOwnership: RFC 7009 §2.1 — the server verifies that the
// token was issued to the client making the revocation request. Another
// client's JWT access token (a user's, or a service's) is refused with
// unauthorized_client and stays valid; its owner can revoke it.
func TestRevokeJWTOwnership(t *testing.T) {
	e := newEnv(t)
	e.addUser("olga", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "rs", "grants": []string{"client_credentials"}})
	svcID, svcSecret := e.addClient(map[string]any{"name": "svc", "grants": []string{"client_credentials"}})
	active := func(tok string) bool {
		t.Helper()
		return e.form("/oauth2/introspect", url.Values{"token": {tok}}, basic(rsID, rsSecret)...).json(t)["active"] == true
	}

	userAT, _ := e.loginTokens("olga", nil) // issued to Tessera's own login ("tessera")
	wantOAuthError(t, e.form("/oauth2/revoke", url.Values{"token": {userAT}}, basic(rsID, rsSecret)...), 400, "unauthorized_client")
	if !active(userAT) || e.whoami(bearer(userAT)...).StatusCode != 200 {
		t.Fatal("another client revoked a user's access token")
	}

	svcAT := e.token(url.Values{"grant_type": {"client_credentials"}}, basic(svcID, svcSecret)...).json(t)["access_token"].(string)
	wantOAuthError(t, e.form("/oauth2/revoke", url.Values{"token": {svcAT}}, basic(rsID, rsSecret)...), 400, "unauthorized_client")
	if !active(svcAT) {
		t.Fatal("another client revoked a service's access token")
	}
	// The owner can: the refusal above was about ownership, not the token.
	if r := e.form("/oauth2/revoke", url.Values{"token": {svcAT}}, basic(svcID, svcSecret)...); r.StatusCode != 200 {
		t.Fatalf("owner's revocation: %d %s", r.StatusCode, r.body)
	}
	if active(svcAT) {
		t.Fatal("a revoked access token is still active")
	}
}

// TestJWTSubjectMustBeSessionUser: a JWT access token is worth no more than
// its session, and only for that session's user. A token naming a live
// session (sid) but another user (sub) — a validly signed token minted
// wrongly, or a key used to forge one — is refused as a bearer credential.
func TestJWTSubjectMustBeSessionUser(t *testing.T) {
	e := newEnv(t)
	pia := e.addUser("pia", pw)
	quinn := e.addUser("quinn", pw)
	at, _ := e.loginTokens("pia", nil)
	sid := e.whoami(bearer(at)...).json(t)["session"].(map[string]any)["id"].(string)

	signer, err := e.srv.keys.(*keys.Keyset).Active()
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	mint := func(sub, jti string) string {
		t.Helper()
		tok, err := accesstoken.Mint(accesstoken.Claims{
			Issuer: "https://auth.example.test", Subject: sub, Audience: accesstoken.Audience{"https://auth.example.test"},
			Expiry: now.Add(15 * time.Minute).Unix(), IssuedAt: now.Unix(), ID: jti, ClientID: "tessera", SessionID: sid,
		}, signer.KID, signer.Alg, signer.Key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// The same token for the session's own user is accepted: the refusal
	// below is about the subject alone.
	if r := e.whoami(bearer(mint(pia, "jti-own"))...); r.StatusCode != 200 {
		t.Fatalf("a well-formed token for the session's user: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.whoami(bearer(mint(quinn, "jti-other"))...), 401, "invalid_token")
}
