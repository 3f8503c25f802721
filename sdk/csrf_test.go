package sdk

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tessera-auth/tessera/session"
)

func TestCSRFTokenMatchesTessera(t *testing.T) {
	for _, tok := range []string{"tss_3zq4I1Inkz7Qv3jjOKOkr4wK6ET2GUPgcEaYTAUJNxr40Zc2f", "x", ""} {
		if got, want := CSRFToken(tok), session.CSRFToken(tok); got != want {
			t.Fatalf("CSRFToken(%q) = %q, Tessera says %q", tok, got, want)
		}
	}
}

func TestCSRF(t *testing.T) {
	const sess = "tss_3zq4I1Inkz7Qv3jjOKOkr4wK6ET2GUPgcEaYTAUJNxr40Zc2f"
	good := CSRFToken(sess)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := CSRF(CSRFOptions{AllowedOrigins: []string{"https://app.example.com"}})(ok)
	behindProxy := CSRF(CSRFOptions{PublicOrigin: "https://api.example.com/"})(ok)
	custom := CSRF(CSRFOptions{Check: func(r *http.Request, presented string) bool { return presented == "app-issued" }})(ok)

	cookie := "Cookie"
	cv := CookieName + "=" + sess
	cases := []struct {
		name    string
		handler http.Handler
		method  string
		tls     bool
		header  map[string]string
		status  int
	}{
		{"GET cross-site", h, "GET", false, map[string]string{cookie: cv, "Sec-Fetch-Site": "cross-site"}, 204},
		{"HEAD", h, "HEAD", false, map[string]string{cookie: cv, "Origin": "https://evil.example"}, 204},
		{"same-origin POST with token", h, "POST", false, map[string]string{cookie: cv, "Origin": "http://api.local", "Sec-Fetch-Site": "same-origin", CSRFHeader: good}, 204},
		{"Sec-Fetch-Site only", h, "PUT", false, map[string]string{cookie: cv, "Sec-Fetch-Site": "same-origin", CSRFHeader: good}, 204},
		{"Sec-Fetch-Site none (typed URL)", h, "POST", false, map[string]string{cookie: cv, "Sec-Fetch-Site": "none", CSRFHeader: good}, 204},
		{"allowed origin", h, "PATCH", false, map[string]string{cookie: cv, "Origin": "https://app.example.com", CSRFHeader: good}, 204},
		{"own origin over TLS", h, "DELETE", true, map[string]string{cookie: cv, "Origin": "https://api.local", CSRFHeader: good}, 204},
		{"scheme mismatch", h, "DELETE", false, map[string]string{cookie: cv, "Origin": "https://api.local", CSRFHeader: good}, 403},
		{"cross-site", h, "POST", false, map[string]string{cookie: cv, "Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com", CSRFHeader: good}, 403},
		{"same-site is not same-origin", h, "POST", false, map[string]string{cookie: cv, "Sec-Fetch-Site": "same-site", CSRFHeader: good}, 403},
		{"foreign origin", h, "POST", false, map[string]string{cookie: cv, "Origin": "https://evil.example", CSRFHeader: good}, 403},
		{"Origin null", h, "POST", false, map[string]string{cookie: cv, "Origin": "null", CSRFHeader: good}, 403},
		{"no origin information", h, "POST", false, map[string]string{cookie: cv, CSRFHeader: good}, 403},
		{"missing token", h, "POST", false, map[string]string{cookie: cv, "Origin": "http://api.local"}, 403},
		{"wrong token", h, "POST", false, map[string]string{cookie: cv, "Origin": "http://api.local", CSRFHeader: CSRFToken("tss_other")}, 403},
		{"unknown method is unsafe", h, "PURGE", false, map[string]string{cookie: cv, "Origin": "http://api.local"}, 403},
		{"bearer cross-origin", h, "POST", false, map[string]string{"Authorization": "Bearer x", "Origin": "https://spa.example", "Sec-Fetch-Site": "cross-site"}, 204},
		{"bearer and cookie together", h, "POST", false, map[string]string{"Authorization": "Bearer x", cookie: cv, "Origin": "https://evil.example"}, 204},
		{"no credential, cross-site", h, "POST", false, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"no credential, no headers (curl)", h, "POST", false, nil, 204},
		{"public origin behind a proxy", behindProxy, "POST", false, map[string]string{cookie: cv, "Origin": "https://api.example.com", CSRFHeader: good}, 204},
		{"proxy: internal origin refused", behindProxy, "POST", false, map[string]string{cookie: cv, "Origin": "http://api.local", CSRFHeader: good}, 403},
		{"custom check", custom, "POST", false, map[string]string{cookie: cv, "Sec-Fetch-Site": "same-origin", CSRFHeader: "app-issued"}, 204},
		{"custom check refuses", custom, "POST", false, map[string]string{cookie: cv, "Sec-Fetch-Site": "same-origin", CSRFHeader: good}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://api.local/notes", nil)
			if tc.tls {
				req.TLS = &tls.ConnectionState{}
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			tc.handler.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if w.Code == 403 && w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("Content-Type %q", w.Header().Get("Content-Type"))
			}
		})
	}
}

// TestCSRFAfterMiddleware uses the principal's origin of credential: a
// bearer principal passes even though a (stale) cookie rides along.
func TestCSRFAfterMiddleware(t *testing.T) {
	const sess = "tss_3zq4I1Inkz7Qv3jjOKOkr4wK6ET2GUPgcEaYTAUJNxr40Zc2f"
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := CSRF(CSRFOptions{})(ok)
	for _, tc := range []struct {
		name   string
		p      *Principal
		token  string
		status int
	}{
		{"cookie principal, right token", &Principal{FromCookie: true, raw: &rawCredential{sess}}, CSRFToken(sess), 204},
		{"cookie principal, token of the other cookie", &Principal{FromCookie: true, raw: &rawCredential{sess}}, CSRFToken("tss_other"), 403},
		{"bearer principal", &Principal{raw: &rawCredential{"jwt"}}, "", 204},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "http://api.local/", nil)
			req.Header.Set("Origin", "http://api.local")
			req.Header.Set("Cookie", CookieName+"=tss_other")
			if tc.token != "" {
				req.Header.Set(CSRFHeader, tc.token)
			}
			req = req.WithContext(WithPrincipal(req.Context(), tc.p))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
		})
	}
}
