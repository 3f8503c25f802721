package interop

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/keys"
)

// TestGoOIDCVerifiesOurTokens: coreos/go-oidc's RemoteKeySet fetches our
// /.well-known/jwks.json and verifies access tokens we signed, before and
// after a key rotation (an unknown kid makes it refetch).
func TestGoOIDCVerifiesOurTokens(t *testing.T) {
	ctx := context.Background()
	for _, alg := range keys.Algorithms {
		t.Run(alg, func(t *testing.T) {
			c := config.Default()
			c.Data = t.TempDir()
			c.Policy.Keys.Algorithm = alg
			a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: "tsx_interop-admin-token-0123456789abcdef"})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			ks := a.Keys
			ts := httptest.NewServer(a.Public())
			defer ts.Close()

			mint := func() string {
				s, _ := ks.Active()
				now := time.Now()
				tok, err := accesstoken.Mint(accesstoken.Claims{Issuer: ts.URL, Subject: "u1", Audience: accesstoken.Audience{"api"},
					Expiry: now.Add(15 * time.Minute).Unix(), IssuedAt: now.Unix(), ID: "j1", ClientID: "c1"}, s.KID, s.Alg, s.Key)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			remote := oidc.NewRemoteKeySet(ctx, ts.URL+"/.well-known/jwks.json")
			before := mint()
			if _, err := remote.VerifySignature(ctx, before); err != nil {
				t.Fatalf("go-oidc rejected our token: %v", err)
			}
			if _, err := ks.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			after := mint()
			for name, tok := range map[string]string{"signed before rotation": before, "signed after rotation": after} {
				if _, err := remote.VerifySignature(ctx, tok); err != nil {
					t.Fatalf("%s: go-oidc rejected it: %v", name, err)
				}
			}
			tampered := after[:len(after)-4] + "AAAA"
			if _, err := remote.VerifySignature(ctx, tampered); err == nil {
				t.Fatal("go-oidc accepted a tampered signature: the test proves nothing")
			}
		})
	}
}

func decodeJSON(t *testing.T, res *http.Response, v any) {
	t.Helper()
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
