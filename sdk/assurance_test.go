package sdk

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
)

func TestRequireAuthentication(t *testing.T) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	jwt := func(acr string, authTime time.Time) *Principal {
		c := &accesstoken.Claims{ACR: acr, AMR: []string{"pwd"}}
		if !authTime.IsZero() {
			c.AuthTime = authTime.Unix()
		}
		return &Principal{Subject: "u1", Claims: c}
	}
	for _, tc := range []struct {
		name   string
		req    Requirement
		p      *Principal
		status int
		header []string
	}{
		{"aal2 met", Requirement{MinAAL: 2}, jwt("aal2", now), 204, nil},
		{"aal3 meets aal2", Requirement{MinAAL: 2}, jwt("aal3", now), 204, nil},
		{"aal1 too weak", Requirement{MinAAL: 2}, jwt("aal1", now), 401, []string{`error="insufficient_user_authentication"`, `acr_values="aal2"`}},
		{"no acr", Requirement{MinAAL: 1}, jwt("", now), 401, []string{`acr_values="aal1"`}},
		{"recent enough", Requirement{MaxAge: 5 * time.Minute}, jwt("aal1", now.Add(-5*time.Minute)), 204, nil},
		{"too old", Requirement{MaxAge: 5 * time.Minute}, jwt("aal1", now.Add(-5*time.Minute-time.Second)), 401, []string{"max_age=300"}},
		{"unknown auth_time", Requirement{MaxAge: time.Hour}, jwt("aal2", time.Time{}), 401, []string{"max_age=3600"}},
		{"introspected", Requirement{MinAAL: 2, MaxAge: time.Minute}, &Principal{Introspection: &Introspection{Active: true, ACR: "aal2", AuthTime: now.Unix()}}, 204, nil},
		{"no principal", Requirement{MinAAL: 1}, nil, 401, []string{`Bearer realm="api"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Now = func() time.Time { return now }
			h := RequireAuthentication(tc.req)(ok)
			r := httptest.NewRequest("GET", "/", nil)
			if tc.p != nil {
				r = r.WithContext(WithPrincipal(r.Context(), tc.p))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			for _, want := range tc.header {
				if got := w.Header().Get("WWW-Authenticate"); !strings.Contains(got, want) {
					t.Fatalf("WWW-Authenticate %q lacks %q", got, want)
				}
			}
		})
	}
}
