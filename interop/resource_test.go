package interop

import (
	"context"
	"net/url"
	"testing"

	"github.com/tessera-auth/tessera/oauth"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestXOAuth2ResourceIndicator: golang.org/x/oauth2's clientcredentials,
// sending RFC 8707 "resource" as an endpoint parameter, gets a token whose
// aud is that resource alone; a resource the client was not registered for
// is invalid_target (issue 10, L3).
func TestXOAuth2ResourceIndicator(t *testing.T) {
	f, ts := fixture(t)
	ctx := context.Background()
	const notes = "https://notes.example"
	c, secret, err := f.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "worker", Resources: []string{notes}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: ts.URL + "/oauth2/token", EndpointParams: url.Values{"resource": {notes}}}
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := f.Verifier.Verify(tok.AccessToken)
	if err != nil || len(claims.Audience) != 1 || claims.Audience[0] != notes {
		t.Fatalf("claims %+v, %v", claims, err)
	}
	cfg.EndpointParams = url.Values{"resource": {"https://files.example"}}
	_, err = cfg.Token(ctx)
	var re *oauth2.RetrieveError
	if err == nil || !asRetrieve(err, &re) || re.ErrorCode != "invalid_target" {
		t.Fatalf("unregistered resource: %v", err)
	}
}
