package app_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/oauth"
)

// TestForwardAuthConfigIsWired: the forward_auth section reaches the
// endpoint as serve builds it: a renamed header, service tokens with
// their required scope, and a rule.
func TestForwardAuthConfigIsWired(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	c.ForwardAuth.Headers.ClientID = "Remote-Client"
	c.ForwardAuth.ServiceTokens = config.ServiceTokens{Enabled: true, Scope: []string{"upstream"}}
	c.ForwardAuth.Rules = []config.ForwardAuthRule{{PathPrefix: "/ops", MaxAuthAge: config.Duration(time.Minute)}}
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cl, _, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "batch", Scopes: []string{"upstream"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.OAuth.ClientCredentials(ctx, cl, "")
	if err != nil {
		t.Fatal(err)
	}
	ask := func(uri string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/v1/auth/verify", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("X-Forwarded-Uri", uri) // from 192.0.2.1, untrusted: unknown, every rule
		w := httptest.NewRecorder()
		a.Public().ServeHTTP(w, req)
		return w
	}
	req := httptest.NewRequest("GET", "/v1/auth/verify", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	w := httptest.NewRecorder()
	a.Public().ServeHTTP(w, req)
	if w.Code != 200 || w.Header().Get("Remote-Client") != cl.ID || w.Header().Get("X-Tessera-Client-Id") != "" {
		t.Fatalf("service token: %d %v", w.Code, w.Header())
	}
	if w := ask("/ops"); w.Code != 403 || !strings.Contains(w.Body.String(), "auth_too_old") {
		t.Fatalf("rule: %d %s", w.Code, w.Body)
	}
}
