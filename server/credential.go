package server

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/tessera-auth/tessera/origin"
	"github.com/tessera-auth/tessera/probe"
	"github.com/tessera-auth/tessera/protocol"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/token"
	"github.com/tessera-auth/tessera/tokenstate"
)

// principal is the authenticated caller of a request.
type principal struct {
	session    session.Session
	raw        string // the presented session token; never logged
	fromCookie bool
	// grant is what the access token the request was authenticated by
	// was issued for; nil for a session token (cookie or bearer), which
	// is the first party's.
	grant       *tokenstate.Grant
	accessToken bool // authenticated by an access token (JWT or tsa_)
	// access is the presented access token, kept to find its client when
	// a renewal re-issues tokens; never logged.
	access string
}

// accessGrant is the session a bearer access token stands for and its
// grant (tokenstate.Service.AccessGrant); without OAuth there are none.
func (s *Server) accessGrant(ctx context.Context, raw string, u session.Use) (session.Session, *tokenstate.Grant, error) {
	if s.tokens == nil {
		return session.Session{}, nil, session.ErrInvalid
	}
	sess, g, err := s.tokens.AccessGrant(ctx, raw, u)
	return sess, &g, err
}

// permits guards what only the user's own credentials may do (issue 10,
// L14): session management and password change. A session token is the
// first party's; an access token must be the first party's, or another
// client's granted scope explicitly (tokenstate.Service.Permits; "": no
// scope will do). Otherwise 403 insufficient_scope (RFC 6750 §3.1),
// naming the scope if there is one.
func (s *Server) permits(scope string, next func(http.ResponseWriter, *http.Request, *principal) error) func(http.ResponseWriter, *http.Request, *principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if p.grant == nil || s.tokens.Permits(*p.grant, scope) {
			return next(w, r, p)
		}
		if scope == "" {
			pr := newProblem(http.StatusForbidden, "insufficient_scope", "This needs the user's own login: a session, or a token of the first-party client.")
			pr.challenge = `Bearer realm="tessera", error="insufficient_scope"`
			return pr
		}
		pr := newProblem(http.StatusForbidden, "insufficient_scope",
			fmt.Sprintf("This needs the user's own login (a session, or a token of the first-party client) or an access token with scope %q.", scope))
		pr.challenge = `Bearer realm="tessera", error="insufficient_scope", scope="` + scope + `"`
		return pr
	}
}

// bearerToken extracts an RFC 6750 §2.1 token from an Authorization header.
func bearerToken(h string) (string, bool) {
	tok, ok, _ := bearerCredential(h)
	return tok, ok
}

// bearerCredential reads an Authorization header by the rule Tessera and
// its SDK share (protocol.ParseBearer): a token, no bearer credential
// (another scheme), or a malformed Bearer header.
func bearerCredential(h string) (tok string, ok, malformed bool) {
	return protocol.ParseBearer(h)
}

// authorization is the request's one Authorization header ("" if none).
// Two are ambiguous (ok false): the field is not a list (RFC 9110 §11.6.2),
// and which one a server honours — Go's Header.Get takes the first, a
// proxy may take the last — must not be a guess. Every reader of the
// header goes through here.
func authorization(h http.Header) (v string, ok bool) {
	switch vs := h["Authorization"]; len(vs) {
	case 0:
		return "", true
	case 1:
		return vs[0], true
	}
	return "", false
}

// presented is the user credential a request carries: a bearer token or
// the session cookie.
type presented struct {
	raw        string // "" if none; never logged
	fromCookie bool
}

// errCredentialRequest is the answer to a request whose credential is
// malformed or ambiguous: 400 invalid_request (RFC 6750 §3.1).
func errCredentialRequest(detail string) *problem {
	p := newProblem(http.StatusBadRequest, "invalid_request", detail)
	p.bearer = "invalid_request"
	return p
}

// credential reads the one user credential of a request: the one rule
// every endpoint that takes a session cookie or a bearer token follows
// (authed, and login, which ends what was presented). RFC 6750 §2: a
// client MUST NOT use more than one method to transmit the token in each
// request. Two Authorization headers, a bearer token and a session cookie
// together, or two different session cookies are therefore refused, not
// resolved silently: 400 invalid_request. So is a malformed Bearer header
// (RFC 6750 §3.1). A header of another scheme is no credential (the
// cookie, if any, is). No credential at all is the zero presented.
func (s *Server) credential(h http.Header) (presented, *problem) {
	authz, ok := authorization(h)
	if !ok {
		return presented{}, errCredentialRequest("Send one Authorization header, not several.")
	}
	tok, isBearer, malformed := bearerCredential(authz)
	if malformed {
		return presented{}, errCredentialRequest("The Authorization header must be: Bearer <token>.")
	}
	cookie, ok := cookieValue(h, s.cookieName)
	if !ok {
		return presented{}, errCredentialRequest("The request carries more than one session cookie.")
	}
	switch {
	case isBearer && cookie != "":
		return presented{}, errCredentialRequest("Send a bearer token or the session cookie, not both (RFC 6750 §2).")
	case isBearer:
		return presented{raw: tok}, nil
	}
	return presented{raw: cookie, fromCookie: cookie != ""}, nil
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
		c, p := s.credential(r.Header)
		if p != nil {
			s.fail(w, r, p)
			return
		}
		if c.raw == "" {
			s.fail(w, r, errUnauthenticated())
			return
		}
		pr := &principal{raw: c.raw, fromCookie: c.fromCookie}
		var sess session.Session
		var err error
		u := s.use(r)
		if !pr.fromCookie {
			// Issue 10, L4: bearer tokens from an address that keeps
			// presenting bad ones are refused before they are checked.
			if wait, blocked := s.probes.BearerBlocked(probe.Use{IP: u.IP}); blocked {
				s.fail(w, r, errProbing(wait))
				return
			}
		}
		kind := token.KindOf(pr.raw)
		switch {
		case !pr.fromCookie && kind == token.JWT, !pr.fromCookie && kind == token.Access && s.tokens != nil:
			sess, pr.grant, err = s.accessGrant(r.Context(), pr.raw, u)
			pr.access, pr.raw, pr.accessToken = pr.raw, "", true
		default:
			sess, err = s.sessions.Validate(r.Context(), pr.raw, u)
		}
		if err != nil {
			p := sessionProblem(err)
			// An expired token is one Tessera issued (its signature or its
			// record was checked first): a client late to refresh, not a
			// probe. Forged, unknown and revoked tokens count.
			if !pr.fromCookie && p.Status == http.StatusUnauthorized && !errors.Is(err, session.ErrExpired) {
				s.probes.BearerFailed(r.Context(), probe.Use{IP: u.IP, UserAgent: u.UserAgent})
			}
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
// sent (r.Cookie allocates them all); it runs on every authenticated
// request. Two cookies of that name with different values are ambiguous
// (ok false): a sibling host or a path-scoped cookie can plant a second
// one (cookie tossing), and which a browser sends first is not ours to
// trust. An empty value is no cookie.
func cookieValue(h http.Header, name string) (value string, ok bool) {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, found := strings.Cut(part, "=")
			if !found || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			switch {
			case v == "" || v == value:
			case value == "":
				value = v
			default:
				return "", false
			}
		}
	}
	return value, true
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

// sameOrigin reports whether r comes from our own origin or an allowed one
// (origin.Policy.Check). With requireHeader false, a request with neither
// Origin nor Sec-Fetch-Site (not a browser) passes.
//
// Our public origin is trusted only as same-site: Tessera is that origin,
// so a browser never calls it cross-site. The allowed_origins other than
// it may be SPAs on another site, which CORS admits: those are trusted
// cross-site too (forward auth trusts every origin so, see
// forwardauth.Checker).
func (s *Server) sameOrigin(r *http.Request, requireHeader bool) bool {
	req := origin.Request{Origin: r.Header.Get("Origin"), SecFetchSite: r.Header.Get("Sec-Fetch-Site")}
	if s.cfg.PublicOrigin == "" {
		// Without a configured origin, the one the request was addressed
		// to; behind a TLS-terminating proxy, configure PublicOrigin.
		req.Target = requestOrigin(r)
	}
	switch s.originPolicy.Check(req) {
	case origin.Allowed:
		return true
	case origin.Unknown:
		return !requireHeader
	}
	return false
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
