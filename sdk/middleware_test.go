package sdk

import (
	"context"
	"fmt"
	"github.com/tessera-auth/tessera/protocol"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// whoami is the protected handler: it echoes how the caller was seen.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	kind := "jwt"
	if p.Introspection != nil {
		kind = "introspected"
	}
	if p.FromCookie {
		kind += "+cookie"
	}
	w.Write([]byte(p.Subject + " " + kind))
})

func TestMiddleware(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rev := e.revocations(nil)
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	opts := MiddlewareOptions{
		Verifier:     e.verifier(func(c *VerifierConfig) { c.Revocations = rev }),
		Introspector: e.introspector(nil),
		Realm:        "notes",
		Cookie:       true,
	}
	h := Middleware(opts)(whoami)
	noCookies := opts
	noCookies.Cookie = false
	hNoCookie := Middleware(noCookies)(whoami)
	down := opts
	down.Introspector = e.introspector(func(c *IntrospectorConfig) { c.URL = "http://127.0.0.1:1/oauth2/introspect" })
	hDown := Middleware(down)(whoami)

	user := e.loginTokens(0)
	sub, _ := e.f.Verifier.Verify(user.Access)
	browser := e.loginCookie(1)
	revoked := e.loginTokens(1)
	e.logout(revoked.Access)
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	svc := e.clientToken("")

	cases := []struct {
		name      string
		handler   http.Handler
		header    map[string]string
		target    string
		status    int
		challenge string // WWW-Authenticate
		body      string // prefix
	}{
		{"no credential", h, nil, "/", 401, `Bearer realm="notes"`, ""},
		{"other scheme", h, map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, "/", 401, `Bearer realm="notes"`, ""},
		{"malformed bearer", h, map[string]string{"Authorization": "Bearer a b"}, "/", 400, `Bearer realm="notes", error="invalid_request"`, ""},
		// One credential per request, by Tessera's own rule (issue 10, L10).
		{"bearer after a tab", h, map[string]string{"Authorization": "Bearer\t" + user.Access}, "/", 400, `Bearer realm="notes", error="invalid_request"`, ""},
		{"bearer and cookie", h, map[string]string{"Authorization": "Bearer " + user.Access, "Cookie": CookieName + "=" + browser.Cookie}, "/", 400, `Bearer realm="notes", error="invalid_request"`, ""},
		{"two session cookies", h, map[string]string{"Cookie": CookieName + "=" + browser.Cookie + "; " + CookieName + "=tss_planted"}, "/", 400, `Bearer realm="notes", error="invalid_request"`, ""},
		{"bearer and cookie, cookies not enabled", hNoCookie, map[string]string{"Authorization": "Bearer " + user.Access, "Cookie": CookieName + "=" + browser.Cookie}, "/", 200, "", sub.Subject + " jwt"},
		{"token in the query", h, nil, "/?access_token=" + user.Access, 400, `Bearer realm="notes", error="invalid_request"`, ""},
		{"JWT", h, map[string]string{"Authorization": "Bearer " + user.Access}, "/", 200, "", sub.Subject + " jwt"},
		{"bearer scheme case-insensitive", h, map[string]string{"Authorization": "bearer " + user.Access}, "/", 200, "", sub.Subject + " jwt"},
		{"client_credentials JWT", h, map[string]string{"Authorization": "Bearer " + svc}, "/", 200, "", e.clientID + " jwt"},
		{"tampered JWT", h, map[string]string{"Authorization": "Bearer " + user.Access[:len(user.Access)-4] + "AAAA"}, "/", 401, `Bearer realm="notes", error="invalid_token"`, ""},
		{"revoked session", h, map[string]string{"Authorization": "Bearer " + revoked.Access}, "/", 401, `Bearer realm="notes", error="invalid_token"`, ""},
		{"session token as bearer", h, map[string]string{"Authorization": "Bearer " + browser.Cookie}, "/", 200, "", ""},
		{"cookie", h, map[string]string{"Cookie": CookieName + "=" + browser.Cookie}, "/", 200, "", ""},
		{"cookie when not enabled", hNoCookie, map[string]string{"Cookie": CookieName + "=" + browser.Cookie}, "/", 401, `Bearer realm="notes"`, ""},
		{"unknown opaque token", h, map[string]string{"Authorization": "Bearer tss_nope"}, "/", 401, `Bearer realm="notes", error="invalid_token"`, ""},
		{"Tessera unreachable", hDown, map[string]string{"Authorization": "Bearer " + browser.Cookie}, "/", 503, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.target, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			tc.handler.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if !strings.HasPrefix(w.Body.String(), tc.body) {
				t.Fatalf("body %q, want prefix %q", w.Body, tc.body)
			}
			if w.Code != 200 && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("Content-Type %q", w.Header().Get("Content-Type"))
			}
			if strings.Contains(w.Body.String(), user.Access) || strings.Contains(w.Body.String(), browser.Cookie) {
				t.Fatal("a token was echoed back")
			}
		})
	}

	t.Run("two authorization headers", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["Authorization"] = []string{"Bearer " + user.Access, "Bearer " + user.Access}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 400 {
			t.Fatalf("status %d, want 400", w.Code)
		}
	})

	t.Run("stale revocations answer 503", func(t *testing.T) {
		e.clock.Add(time.Minute)
		defer e.clock.Add(-time.Minute)
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+user.Access)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 503 || w.Header().Get("Retry-After") == "" {
			t.Fatalf("status %d (Retry-After %q), want 503", w.Code, w.Header().Get("Retry-After"))
		}
	})
}

func TestRequireScope(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(nil)
	h := Middleware(MiddlewareOptions{Verifier: v})(RequireScope("notes:write")(whoami))
	for _, tc := range []struct {
		name   string
		scope  string
		status int
	}{
		{"granted", "notes:read notes:write", 200},
		{"missing", "notes:read", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", nil)
			req.Header.Set("Authorization", "Bearer "+e.clientToken(tc.scope))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.status == 403 && w.Header().Get("WWW-Authenticate") != `Bearer error="insufficient_scope", scope="notes:write"` {
				t.Fatalf("WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("without Middleware", func(t *testing.T) {
		w := httptest.NewRecorder()
		RequireScope("x")(whoami).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != 401 {
			t.Fatalf("status %d, want 401", w.Code)
		}
	})
}

func FuzzCredential(f *testing.F) {
	for _, s := range []string{"Bearer mF_9.B5f-4.1JqM", "Bearer abc==", "bearer  x", "Bearer ", "Bearer a=b", "Basic x", "Bearer \x00", "", "Bearer\tx", "Bearer,x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := &http.Request{Header: http.Header{"Authorization": {h}}}
		raw, fromCookie, refused := credential(r, MiddlewareOptions{})
		if fromCookie {
			t.Fatal("cookie without a cookie")
		}
		if refused != "" && raw != "" {
			t.Fatal("partial result on error")
		}
		if raw != "" && (!protocol.IsB64Token(raw) || h[len("Bearer")] != ' ') {
			t.Fatalf("accepted %q from %q", raw, h)
		}
	})
}

func TestPrincipalDoesNotPrintItsToken(t *testing.T) {
	p := &Principal{Subject: "u", FromCookie: true, raw: &rawCredential{"tss_secret-value"}}
	for _, s := range []string{fmt.Sprintf("%v", p), fmt.Sprintf("%+v", *p), fmt.Sprintf("%#v", *p)} {
		if strings.Contains(s, "tss_secret-value") {
			t.Fatalf("printed the token: %s", s)
		}
	}
}
