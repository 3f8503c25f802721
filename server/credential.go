package server

import (
	"context"
	"mime"
	"net/http"
	"strings"

	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/token"
)

// principal is the authenticated caller of a request.
type principal struct {
	session     session.Session
	raw         string // the presented session token; never logged
	fromCookie  bool
	accessToken bool // authenticated by a JWT access token
	// access is the presented access token (JWT or tsa_), kept to find
	// its client when a renewal re-issues tokens; never logged.
	access string
}

// accessSession is the session a bearer access token stands for
// (tokenstate.Service.AccessSession); without OAuth there are none.
func (s *Server) accessSession(ctx context.Context, raw string, u session.Use) (session.Session, error) {
	if s.tokens == nil {
		return session.Session{}, session.ErrInvalid
	}
	return s.tokens.AccessSession(ctx, raw, u)
}

// bearerToken extracts an RFC 6750 §2.1 token from an Authorization header.
func bearerToken(h string) (string, bool) {
	tok, ok, _ := bearerCredential(h)
	return tok, ok
}

// bearerCredential reads an Authorization header as RFC 6750 §2.1 does. A
// header of another scheme carries no bearer credential (ok and malformed
// both false); a Bearer header without a b64token is malformed, which
// RFC 6750 §3.1 answers with 400 invalid_request rather than 401.
func bearerCredential(h string) (tok string, ok, malformed bool) {
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, false
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || !isB64Token(tok) {
		return "", false, true
	}
	return tok, true, false
}

// isB64Token reports whether s matches RFC 6750's b64token syntax.
func isB64Token(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			for _, rest := range s[i:] {
				if rest != '=' {
					return false
				}
			}
			return i > 0
		}
	}
	return true
}

// authed admits requests carrying a valid session token, as a bearer token
// (RFC 6750 §2.1) or in the session cookie. Cookie-authenticated state
// changes must also pass the CSRF check. Tokens in the query string or a
// form body (RFC 6750 §2.2, §2.3) are refused: they end up in logs and history.
func (s *Server) authed(next func(http.ResponseWriter, *http.Request, *principal) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := refuseMisplacedToken(r); p != nil {
			s.fail(w, r, p)
			return
		}
		pr := &principal{}
		tok, ok, malformed := bearerCredential(r.Header.Get("Authorization"))
		if malformed {
			p := newProblem(http.StatusBadRequest, "invalid_request", "The Authorization header must be: Bearer <token>.")
			p.bearer = "invalid_request"
			s.fail(w, r, p)
			return
		}
		// Another scheme (Basic, …) is no bearer credential: the cookie, if
		// any, is the credential, or the answer is 401 unauthenticated.
		if ok {
			pr.raw = tok
		} else if v := cookieValue(r.Header, s.cookieName); v != "" {
			pr.raw, pr.fromCookie = v, true
		} else {
			s.fail(w, r, errUnauthenticated())
			return
		}
		var sess session.Session
		var err error
		u := s.use(r)
		kind := token.KindOf(pr.raw)
		switch {
		case !pr.fromCookie && kind == token.JWT, !pr.fromCookie && kind == token.Access && s.tokens != nil:
			sess, err = s.accessSession(r.Context(), pr.raw, u)
			pr.access, pr.raw, pr.accessToken = pr.raw, "", true
		default:
			sess, err = s.sessions.Validate(r.Context(), pr.raw, u)
		}
		if err != nil {
			p := sessionProblem(err)
			if pr.fromCookie && p.Status == http.StatusUnauthorized {
				// The browser holds a dead cookie; have it dropped.
				http.SetCookie(w, s.clearCookie())
				p.bearer = ""
			}
			s.fail(w, r, p)
			return
		}
		pr.session = sess
		if pr.fromCookie && !isSafeMethod(r.Method) {
			if p := s.checkCSRF(r, pr.raw); p != nil {
				s.fail(w, r, p)
				return
			}
		}
		if p := s.enrollmentGate(r, sess); p != nil {
			s.fail(w, r, p)
			return
		}
		if err := next(w, r, pr); err != nil {
			s.fail(w, r, err)
		}
	})
}

// cookieValue finds one cookie without parsing every cookie the browser
// sent (r.Cookie allocates them all); it runs on every authenticated request.
// Like r.Cookie, it takes the first cookie of that name.
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if ok && k == name {
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}

func refuseMisplacedToken(r *http.Request) *problem {
	misplaced := false
	if r.URL.RawQuery != "" && r.URL.Query().Has("access_token") {
		misplaced = true
	}
	if ct := r.Header.Get("Content-Type"); ct == "" {
		// the common case: nothing to parse
	} else if mt, _, _ := mime.ParseMediaType(ct); mt == "application/x-www-form-urlencoded" {
		// No /v1 endpoint takes a form body, so refusing all of them refuses
		// RFC 6750 §2.2 tokens without reading the body.
		misplaced = true
	}
	if !misplaced {
		return nil
	}
	p := newProblem(http.StatusBadRequest, "invalid_request", "Tokens are accepted only in the Authorization header (RFC 6750 §2.1) or the session cookie, never in the query string or a form body.")
	p.bearer = "invalid_request"
	return p
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// checkCSRF requires the session's CSRF token and a same-origin request.
// The origin check stops cross-site forgery even if a CSRF token leaks; the
// token stops same-site attackers (a sibling subdomain) the origin check lets by.
func (s *Server) checkCSRF(r *http.Request, rawSession string) *problem {
	if !s.sameOrigin(r, true) {
		return errCSRF("Cross-origin request refused: Origin or Sec-Fetch-Site must show a same-origin request.")
	}
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		return errCSRF("The X-CSRF-Token header is required for cookie-authenticated changes.")
	}
	if !session.CheckCSRF(rawSession, tok) {
		return errCSRF("The X-CSRF-Token header does not match this session.")
	}
	return nil
}

// sameOrigin reports whether r comes from our own origin or an allowed one.
// With requireHeader false, a request with neither Origin nor Sec-Fetch-Site
// (not a browser) passes.
func (s *Server) sameOrigin(r *http.Request, requireHeader bool) bool {
	origin := r.Header.Get("Origin")
	site := r.Header.Get("Sec-Fetch-Site")
	if site == "cross-site" {
		return false
	}
	if origin != "" {
		if origin == "null" {
			return false
		}
		return s.origins[origin] || (s.cfg.PublicOrigin == "" && origin == requestOrigin(r))
	}
	if site != "" {
		return site == "same-origin"
	}
	return !requireHeader
}

// requestOrigin is the origin the request was addressed to. Behind a
// TLS-terminating proxy, configure PublicOrigin instead.
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) sessionCookie(raw string) *http.Cookie {
	c := &http.Cookie{
		Name:     s.cookieName,
		Value:    raw,
		Path:     "/",
		Secure:   !s.cfg.InsecureDevCookies,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	if s.cfg.SameSiteStrict {
		c.SameSite = http.SameSiteStrictMode
	}
	return c
}

func (s *Server) clearCookie() *http.Cookie {
	c := s.sessionCookie("")
	c.MaxAge = -1
	return c
}
