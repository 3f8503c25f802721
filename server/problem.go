package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/tessera-auth/tessera/protocol"
)

// problem is an RFC 9457 problem detail (its body is protocol.Problem)
// with the headers that go with it.
type problem struct {
	protocol.Problem

	retryAfter time.Duration
	bearer     string // RFC 6750 error code for WWW-Authenticate, if any
	// challenge, if set, is the whole WWW-Authenticate value, for the
	// answers that are not the public API's bearer challenge (the admin
	// API's realm, HTTP Basic on the revocation feed).
	// bearerParams holds more WWW-Authenticate parameters after the
	// bearer error (RFC 9470 §3: max_age, acr_values), already formatted.
	bearerParams string
	challenge    string
	cause        error // logged, never sent (see fail)
}

func newProblem(status int, code, detail string) *problem {
	return &problem{Problem: protocol.Problem{
		Type:   "urn:tessera:problem:" + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}}
}

// Error is for logs: the code, the detail and the cause.
func (p *problem) Error() string {
	if p.cause != nil {
		return p.Code + ": " + p.Detail + ": " + p.cause.Error()
	}
	return p.Code + ": " + p.Detail
}

// Problems used in more than one place.
var (
	errUnauthenticated = func() *problem {
		return newProblem(http.StatusUnauthorized, "unauthenticated", "A valid session cookie or bearer token is required.")
	}
	errInvalidToken = func() *problem {
		p := newProblem(http.StatusUnauthorized, "invalid_token", "The token is invalid, expired or revoked.")
		p.bearer = "invalid_token"
		return p
	}
	errCSRF = func(detail string) *problem {
		return newProblem(http.StatusForbidden, "csrf", detail)
	}
	errInternal = func() *problem {
		return newProblem(http.StatusInternalServerError, "internal", "An internal error occurred; it has been logged.")
	}
	errUnavailable = func() *problem {
		p := newProblem(http.StatusServiceUnavailable, "unavailable", "The session store is unavailable; try again shortly.")
		p.retryAfter = time.Second
		return p
	}
	errNotFound = func() *problem {
		return newProblem(http.StatusNotFound, "not_found", "No such resource.")
	}
)

func writeProblem(w http.ResponseWriter, p *problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h["Cache-Control"], h["Pragma"] = noStore, noCache
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((p.retryAfter+time.Second-1)/time.Second)))
	}
	switch {
	case p.challenge != "":
		h.Set("WWW-Authenticate", p.challenge)
	case p.bearer != "":
		h.Set("WWW-Authenticate", `Bearer realm="tessera", error="`+p.bearer+`"`+p.bearerParams)
	case p.Status == http.StatusUnauthorized:
		// RFC 6750 §3.1: no error code when the request carried no credential.
		h.Set("WWW-Authenticate", `Bearer realm="tessera"`)
	}
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h["Cache-Control"], h["Pragma"] = noStore, noCache
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
