package interop

import (
	"context"
	"net/http"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rs"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// revoker is what zitadel's CallRevokeEndpoint calls.
type revoker struct{ endpoint string }

func (r revoker) GetRevokeEndpoint() string { return r.endpoint }
func (r revoker) HttpClient() *http.Client  { return http.DefaultClient }

// TestZitadelResourceServer: zitadel/oidc's resource-server client, whose
// default is OpenID Connect discovery (which Tessera does not serve), finds
// our endpoints through RFC 8414 metadata (client.Discover with the
// well-known URL) or WithStaticEndpoints, introspects a client_credentials
// token (rs.Introspect) and revokes it (client.CallRevokeEndpoint), as
// docs/clients.md shows.
func TestZitadelResourceServer(t *testing.T) {
	s := startLive(t)
	ctx := context.Background()

	// The default discovery, /.well-known/openid-configuration, is not
	// served (no OIDC yet): the recipe must not rely on it.
	if _, err := rs.NewResourceServerClientCredentials(ctx, s.issuer, s.clientID, s.secret); err == nil {
		t.Fatal("OIDC discovery succeeded: update docs/clients.md, the recipe no longer needs RFC 8414 by hand")
	}

	// RFC 8414 §3: the metadata at /.well-known/oauth-authorization-server.
	meta, err := client.Discover(ctx, s.issuer, http.DefaultClient, s.issuer+"/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatalf("RFC 8414 discovery: %v", err)
	}
	if meta.TokenEndpoint != s.issuer+"/oauth2/token" || meta.IntrospectionEndpoint != s.issuer+"/oauth2/introspect" || meta.RevocationEndpoint != s.issuer+"/oauth2/revoke" {
		t.Fatalf("metadata endpoints: %+v", meta)
	}
	server, err := rs.NewResourceServerClientCredentials(ctx, s.issuer, s.clientID, s.secret,
		rs.WithStaticEndpoints(meta.TokenEndpoint, meta.IntrospectionEndpoint))
	if err != nil {
		t.Fatal(err)
	}

	tok, err := s.app.OAuth.ClientCredentials(ctx, s.client, "jobs:read")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rs.Introspect[*oidc.IntrospectionResponse](ctx, server, tok.AccessToken)
	if err != nil {
		t.Fatalf("introspect: %v", err)
	}
	if !resp.Active || resp.ClientID != s.clientID || resp.Scope.String() != "jobs:read" || resp.Issuer != s.issuer {
		t.Fatalf("introspection: %+v", resp)
	}

	err = client.CallRevokeEndpoint(ctx, client.RevokeRequest{Token: tok.AccessToken, TokenTypeHint: "access_token"},
		httphelper.AuthorizeBasic(s.clientID, s.secret), revoker{meta.RevocationEndpoint})
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	resp, err = rs.Introspect[*oidc.IntrospectionResponse](ctx, server, tok.AccessToken)
	if err != nil || resp.Active {
		t.Fatalf("after revocation: %+v, %v", resp, err)
	}
}
