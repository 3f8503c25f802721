package server

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/forwardauth"
)

// ForwardAuthHeaders names the identity headers of a 200 from
// /v1/auth/verify; an empty name takes the default (X-Tessera-User-Id, …).
type ForwardAuthHeaders struct {
	UserID, Username, SessionID, ClientID, Scope, AAL string
}

// forwardAuth is the forward-auth endpoint's state: the domain checker
// and the identity headers' canonical names.
type forwardAuth struct {
	checker                                           *forwardauth.Checker
	userID, username, sessionID, clientID, scope, aal string
}

func canonical(name, def string) string {
	if name == "" {
		name = def
	}
	return http.CanonicalHeaderKey(name)
}

// buildForwardAuth (re)makes the checker; WithOAuth calls it again once
// access tokens exist.
func (s *Server) buildForwardAuth() {
	h := s.cfg.ForwardAuthHeaders
	fa := &forwardAuth{
		userID: canonical(h.UserID, "X-Tessera-User-Id"), username: canonical(h.Username, "X-Tessera-Username"),
		sessionID: canonical(h.SessionID, "X-Tessera-Session-Id"), clientID: canonical(h.ClientID, "X-Tessera-Client-Id"),
		scope: canonical(h.Scope, "X-Tessera-Scope"), aal: canonical(h.AAL, "X-Tessera-Aal"),
	}
	cfg := s.cfg.ForwardAuth
	cfg.Origins = slices.Clone(cfg.Origins) // appended to below: not the caller's array
	for o := range s.origins {
		cfg.Origins = append(cfg.Origins, o)
	}
	cfg.Now = s.now
	var tokens forwardauth.Tokens
	if s.tokens != nil {
		tokens = s.tokens
	}
	fa.checker = forwardauth.New(s.sessions, tokens, cfg)
	s.fwd = fa
}

func (s *Server) mountForwardAuth(mux *http.ServeMux) {
	// Every method: a proxy set to pass the original method on must get
	// 401 or 403, never a 405 that nginx would turn into a 500.
	mux.HandleFunc(verifyPath, s.handleVerify)
}

const verifyPath = "/v1/auth/verify"

// handleVerify is forward auth for reverse proxies. It answers only 200,
// 401 or 403: nginx's auth_request turns any other status into a 500,
// so even a store outage is a 403 here (forwardauth.Checker.Check says
// why not 401), never a 503.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	// One credential per request, as everywhere (RFC 6750 §2): two
	// Authorization headers, or a bearer token beside the session cookie,
	// are malformed (401 here: verify answers nothing but 200/401/403).
	c, bad := s.credential(r.Header)
	req := forwardauth.Request{
		Target:          s.forwardTarget(r),
		BearerMalformed: bad != nil,
		Origin:          r.Header.Get("Origin"),
		SecFetchSite:    r.Header.Get("Sec-Fetch-Site"),
		CSRFToken:       r.Header.Get("X-CSRF-Token"),
		Use:             s.use(r),
	}
	if bad == nil {
		if c.fromCookie {
			req.Cookie = c.raw
		} else {
			req.Bearer = c.raw
		}
	}
	d := s.fwd.checker.Check(r.Context(), req)
	h := w.Header()
	h["Cache-Control"] = hdrNoStore
	switch d.Outcome {
	case forwardauth.Allow:
		id := d.Identity
		aal := ""
		if !id.Service {
			aal = strconv.Itoa(id.AAL)
		}
		// One backing array for the six values: this is a hot path.
		v := [...]string{id.UserID, id.Username, id.SessionID, id.ClientID, id.Scope, aal}
		vs := v[:]
		h[s.fwd.userID] = vs[0:1:1]
		h[s.fwd.username] = vs[1:2:2]
		h[s.fwd.sessionID] = vs[2:3:3]
		h[s.fwd.clientID] = vs[3:4:4]
		h[s.fwd.scope] = vs[4:5:5]
		h[s.fwd.aal] = vs[5:6:6]
		w.WriteHeader(http.StatusOK)
	case forwardauth.Unauthenticated:
		// Caddy and Traefik pass a refusal on to the browser as it is.
		securityHeaders(h, r)
		p := newProblem(http.StatusUnauthorized, d.Reason, "A valid session cookie or bearer token is required.")
		if d.Reason != forwardauth.ReasonNoCredential {
			// RFC 6750 §3.1: a malformed header is invalid_request, a
			// bad token invalid_token; nothing presented carries no code.
			p.bearer = "invalid_token"
			if d.Reason == forwardauth.ReasonBadCredential {
				p.bearer = "invalid_request"
			}
		}
		writeProblem(w, p)
	default:
		securityHeaders(h, r)
		p := newProblem(http.StatusForbidden, d.Reason, forbiddenDetail(d.Reason))
		if d.Reason == forwardauth.ReasonUnavailable {
			// Logged here, as the funnel logs causes: never the credential.
			s.log.Warn("forward auth could not check a credential: refused", "err", d.Err)
			p.retryAfter = time.Second
		}
		if d.Reason == forwardauth.ReasonScope {
			p.bearer = "insufficient_scope" // RFC 6750 §3.1
		}
		writeProblem(w, p)
	}
}

var hdrNoStore = []string{"no-store"}

func forbiddenDetail(reason string) string {
	switch reason {
	case forwardauth.ReasonCSRF:
		return "Cookie-authenticated changes need a same-origin request and the X-CSRF-Token header."
	case forwardauth.ReasonScope:
		return "The token lacks a scope this resource requires."
	case forwardauth.ReasonAAL:
		return "This resource requires a stronger authentication (a second factor)."
	case forwardauth.ReasonAuthAge:
		return "This resource requires a recent authentication; log in again."
	case forwardauth.ReasonServiceToken:
		return "Service (client credentials) tokens are not accepted here."
	case forwardauth.ReasonUnavailable:
		return "The session store is unavailable; try again shortly."
	}
	return "Refused."
}

// Headers a proxy writes about the original request.
var forwardedHeaders = []string{
	"X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto",
	"X-Original-Method", "X-Original-Url",
}

// forwardTarget is the original request a proxy asks about. Only a trusted
// proxy (clientip) is believed; a missing header leaves that part
// unknown, which forwardauth treats strictly (an unknown method is
// unsafe, an unknown host or path matches every rule). From anyone else
// the X-Forwarded-* and X-Original-* headers are ignored, and if any is
// present the target is wholly unknown: a proxy that is not in
// trusted_proxies then fails closed rather than letting a cross-origin
// POST pass as the GET it is sent as.
func (s *Server) forwardTarget(r *http.Request) forwardauth.Target {
	h := r.Header
	if !s.ips.FromTrustedProxy(r) {
		for _, k := range forwardedHeaders {
			if _, ok := h[k]; ok {
				return forwardauth.Target{}
			}
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return forwardauth.Target{Method: r.Method, Proto: scheme, Host: r.Host, Path: r.URL.EscapedPath()}
	}
	t := forwardauth.Target{
		Method: firstValue(h, "X-Forwarded-Method"),
		Proto:  strings.ToLower(firstValue(h, "X-Forwarded-Proto")),
		Host:   firstValue(h, "X-Forwarded-Host"),
		Path:   h.Get("X-Forwarded-Uri"),
	}
	if t.Method == "" {
		t.Method = h.Get("X-Original-Method")
	}
	if ou := h.Get("X-Original-Url"); ou != "" {
		// nginx's usual $scheme://$http_host$request_uri, or a bare
		// request URI.
		if u, err := url.Parse(ou); err == nil {
			if t.Proto == "" && u.IsAbs() {
				t.Proto = strings.ToLower(u.Scheme)
			}
			if t.Host == "" {
				t.Host = u.Host
			}
			if t.Path == "" && strings.HasPrefix(u.EscapedPath(), "/") {
				t.Path = u.EscapedPath()
			}
		}
	}
	return t
}

// firstValue is the first element of a header a chain of proxies may have
// made a list ("https, http").
func firstValue(h http.Header, k string) string {
	v := h.Get(k)
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}
