package sdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
)

// CSRFHeader carries the CSRF token on cookie-authenticated state changes.
const CSRFHeader = "X-CSRF-Token"

// CSRFOptions configure CSRF.
type CSRFOptions struct {
	// AllowedOrigins are other origins ("https://app.example.com", exact
	// scheme://host[:port]) allowed to send state-changing requests. The
	// request's own origin is always allowed.
	AllowedOrigins []string
	// PublicOrigin is this service's origin as browsers see it, when a
	// proxy in front changes scheme or Host. Default: the request's
	// scheme (TLS or not) and Host.
	PublicOrigin string
	// CookieName is the session cookie whose presence makes a request
	// cookie-authenticated when Middleware did not run first. Default CookieName.
	CookieName string
	// Check reports whether the X-CSRF-Token value presented is the right
	// one for r; it must compare in constant time. Default: equality with
	// Tessera's CSRF token for the session cookie (CSRFToken), which the
	// browser obtains from POST /v1/login and GET /v1/session on Tessera
	// (field "csrf_token") — so the app needs no storage of its own.
	Check func(r *http.Request, presented string) bool
}

// CSRF refuses cross-site state changes (POST, PUT, PATCH, DELETE and any
// other unsafe method) with 403:
//   - a browser's Sec-Fetch-Site other than same-origin or none;
//   - an Origin that is neither the request's own nor allowed ("null" never is);
//   - on a cookie-authenticated request, neither header (a browser always
//     sends one, so this is a request we cannot place), or a missing or
//     wrong X-CSRF-Token.
//
// Requests with an Authorization header and no session cookie pass: a
// bearer token is not ambient, so a forged request cannot carry it. Put CSRF
// after Middleware so it knows how the request was authenticated.
func CSRF(opts CSRFOptions) func(http.Handler) http.Handler {
	if opts.CookieName == "" {
		opts.CookieName = CookieName
	}
	allowed := map[string]bool{}
	for _, o := range opts.AllowedOrigins {
		allowed[strings.TrimSuffix(o, "/")] = true
	}
	check := opts.Check
	if check == nil {
		check = defaultCSRFCheck(opts.CookieName)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if reason := csrfRefusal(r, opts, allowed, check); reason != "" {
				problem(w, http.StatusForbidden, "csrf", reason)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func csrfRefusal(r *http.Request, opts CSRFOptions, allowed map[string]bool, check func(*http.Request, string) bool) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return "" // safe methods (RFC 9110 §9.2.1) must not change state
	}
	cookieAuth := false
	if p := PrincipalFrom(r.Context()); p != nil {
		cookieAuth = p.FromCookie
	} else if r.Header.Get("Authorization") == "" {
		_, err := r.Cookie(opts.CookieName)
		cookieAuth = err == nil
	}
	if !cookieAuth && r.Header.Get("Authorization") != "" {
		return ""
	}
	site := r.Header.Get("Sec-Fetch-Site")
	if site != "" && site != "same-origin" && site != "none" {
		return "Cross-site request refused."
	}
	origin := r.Header.Get("Origin")
	if origin != "" && !allowed[origin] && origin != ownOrigin(r, opts) {
		return "Cross-origin request refused."
	}
	if !cookieAuth {
		return ""
	}
	if site == "" && origin == "" {
		return "Request origin unknown."
	}
	tok := r.Header.Get(CSRFHeader)
	if tok == "" || !check(r, tok) {
		return "Missing or invalid CSRF token."
	}
	return ""
}

func ownOrigin(r *http.Request, opts CSRFOptions) string {
	if opts.PublicOrigin != "" {
		return strings.TrimSuffix(opts.PublicOrigin, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// CSRFToken is Tessera's CSRF token for a session token (docs/tokens.md):
// base64url(HMAC-SHA256(key = session token, "tessera/csrf/v1")). It needs
// no storage and reveals nothing of the session token.
func CSRFToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("tessera/csrf/v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func defaultCSRFCheck(cookieName string) func(*http.Request, string) bool {
	return func(r *http.Request, presented string) bool {
		sess := ""
		if p := PrincipalFrom(r.Context()); p != nil && p.FromCookie {
			if p.raw != nil {
				sess = p.raw.token
			}
		} else if c, err := r.Cookie(cookieName); err == nil {
			sess = c.Value
		}
		if sess == "" {
			return false
		}
		return subtle.ConstantTimeCompare([]byte(CSRFToken(sess)), []byte(presented)) == 1
	}
}
