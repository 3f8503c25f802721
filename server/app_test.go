package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
)

// TestListenersAsServeWiresThem: with the server built by the composition
// root, as `tessera serve` builds it, the admin API is reachable only on
// the admin handler and only with the admin token, and both handlers
// answer the health checks.
func TestListenersAsServeWiresThem(t *testing.T) {
	const tok = "tsx_server-test-admin-token-0123456789abcdef"
	c := config.Default()
	c.Data = filepath.Join(t.TempDir(), "data")
	a, err := app.New(context.Background(), c, app.Options{Access: app.Migrate, AdminToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, tc := range []struct {
		name string
		h    http.Handler
		path string
		auth string
		want int
	}{
		{"public readyz", a.Public(), "/readyz", "", 200},
		{"admin readyz", a.Admin(), "/readyz", "", 200},
		{"admin API on the public handler", a.Public(), "/admin/v1/users", "Bearer " + tok, 404},
		{"admin API without the token", a.Admin(), "/admin/v1/users", "", 401},
		{"admin API with another token", a.Admin(), "/admin/v1/users", "Bearer tsx_wrong-token-0123456789abcdef0123", 401},
		{"admin API with the token", a.Admin(), "/admin/v1/users", "Bearer " + tok, 200},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, w.Code, tc.want, w.Body)
		}
	}
}
