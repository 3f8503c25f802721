package interop

import (
	"context"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestGoOIDCVerifierOnAccessTokens: a resource server verifies Tessera's
// JWT access tokens with go-oidc, without OIDC discovery (which Tessera
// does not serve): NewRemoteKeySet on the JWKS and NewVerifier checking
// issuer, audience (ClientID) and expiry, with ES256 allowed (go-oidc's
// default is RS256 alone). As docs/clients.md shows.
func TestGoOIDCVerifierOnAccessTokens(t *testing.T) {
	s := startLive(t)
	ctx := context.Background()
	tok, err := s.app.OAuth.ClientCredentials(ctx, s.client, "jobs:read")
	if err != nil {
		t.Fatal(err)
	}
	issuer, audience := s.issuer, s.app.Config.Audience()

	keySet := oidc.NewRemoteKeySet(ctx, issuer+"/.well-known/jwks.json")
	verifier := oidc.NewVerifier(issuer, keySet, &oidc.Config{
		ClientID:             audience, // checked against aud
		SupportedSigningAlgs: []string{oidc.ES256, oidc.EdDSA, oidc.RS256},
	})
	claims, err := verifier.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("go-oidc refused our access token: %v", err)
	}
	var extra struct {
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
	}
	if err := claims.Claims(&extra); err != nil || claims.Subject != s.clientID || extra.ClientID != s.clientID || extra.Scope != "jobs:read" {
		t.Fatalf("claims: sub %q %+v %v", claims.Subject, extra, err)
	}

	other := oidc.NewVerifier(issuer, keySet, &oidc.Config{ClientID: "https://other.example", SupportedSigningAlgs: []string{oidc.ES256}})
	if _, err := other.Verify(ctx, tok.AccessToken); err == nil {
		t.Fatal("go-oidc accepted a token for another audience: the test proves nothing")
	}
	rs256Only := oidc.NewVerifier(issuer, keySet, &oidc.Config{ClientID: audience})
	if _, err := rs256Only.Verify(ctx, tok.AccessToken); err == nil {
		t.Fatal("go-oidc's default algorithms (RS256) accepted an ES256 token: the recipe's SupportedSigningAlgs is not needed")
	}
}
