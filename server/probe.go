package server

import (
	"net/http"
	"time"

	"github.com/tessera-auth/tessera/probe"
)

// errProbing is /v1's answer once failed bearer credentials from the
// caller's address have emptied its probing budget (probe package).
func errProbing(wait time.Duration) *problem {
	p := newProblem(http.StatusTooManyRequests, "too_many_attempts", "Too many invalid tokens presented; try again later.")
	p.retryAfter = wait
	return p
}

// errProbingOAuth is the RFC 6749 §5.2-shaped answer of /oauth2/introspect
// once the caller's probing budget is empty (429 is not an RFC 6749 error
// code; the body says so in the registered vocabulary's spirit).
func errProbingOAuth(wait time.Duration) *tokenError {
	e := newTokenError(http.StatusTooManyRequests, "too_many_requests", "too many inactive tokens introspected; try again later")
	e.retryAfter = wait
	return e
}

// probeUse is who presents a token in r.
func (s *Server) probeUse(r *http.Request, clientID string) probe.Use {
	return probe.Use{IP: s.ips.ClientIP(r), UserAgent: r.UserAgent(), ClientID: clientID}
}
