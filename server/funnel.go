package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/tessera-auth/tessera/protocol"
	"github.com/tessera-auth/tessera/session"
)

// The error funnel (tailscale's tsweb.HTTPError, go-webauthn's
// Error{Type, Details, DevInfo}). A handler returns an error instead of
// writing one; fail renders it and logs it. The error says what the client
// sees: a *problem (RFC 9457 problem+json) or a *tokenError (RFC 6749
// §5.2, on the OAuth endpoints), each optionally wrapping a cause that is
// logged and never sent. Any other error is a bug or an outage the handler
// did not name: a wrapped session.ErrUnavailable answers 503 unavailable,
// anything else 500 internal, and both are logged.

// handler is an HTTP handler that returns its failure.
type handler func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to http.Handler through the funnel.
func (s *Server) handle(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// fail renders err (see handler) and logs its cause.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p, te := publicError(err)
	switch {
	case te != nil:
		s.logCause(r, te.Status, te.Code, te.cause)
		writeTokenError(w, te)
		return
	case p != nil:
	case errors.Is(err, session.ErrUnavailable):
		p = errUnavailable().because(err)
	default:
		p = errInternal().because(err)
	}
	s.logCause(r, p.Status, p.Code, p.cause)
	writeProblem(w, p)
}

// publicError finds the first *problem or *tokenError in err's tree, in
// errors.As order: a public error whose cause is another public error
// renders as itself.
func publicError(err error) (*problem, *tokenError) {
	switch e := err.(type) {
	case nil:
		return nil, nil
	case *problem:
		return e, nil
	case *tokenError:
		return nil, e
	case interface{ Unwrap() error }:
		return publicError(e.Unwrap())
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			if p, te := publicError(x); p != nil || te != nil {
				return p, te
			}
		}
	}
	return nil, nil
}

func (s *Server) logCause(r *http.Request, status int, code string, cause error) {
	if cause == nil {
		return
	}
	// The request itself is not logged: it may hold credentials.
	s.log.Error("request failed", "method", r.Method, "route", r.Pattern, "status", status, "code", code, "err", cause)
}

// because sets the cause p wraps: logged, never sent.
func (p *problem) because(cause error) *problem {
	p.cause = cause
	return p
}

func (p *problem) Unwrap() error { return p.cause }

// tokenError is an RFC 6749 §5.2 error response.
type tokenError struct {
	Status      int
	Code        string
	Description string // safe to send
	cause       error  // logged, never sent
	retryAfter  time.Duration
}

func newTokenError(status int, code, desc string) *tokenError {
	return &tokenError{Status: status, Code: code, Description: desc}
}

// Error is for logs: the code, the description and the cause.
func (e *tokenError) Error() string {
	if e.cause != nil {
		return e.Code + ": " + e.Description + ": " + e.cause.Error()
	}
	return e.Code + ": " + e.Description
}
func (e *tokenError) Unwrap() error { return e.cause }

// errTemporarilyUnavailable is the OAuth endpoints' answer when the store
// cannot answer.
func errTemporarilyUnavailable(cause error) *tokenError {
	e := newTokenError(http.StatusServiceUnavailable, "temporarily_unavailable", "try again shortly")
	e.cause = cause
	return e
}

// writeTokenError writes an RFC 6749 §5.2 error.
func writeTokenError(w http.ResponseWriter, e *tokenError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	switch e.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Basic realm="tessera", charset="UTF-8"`)
	case http.StatusServiceUnavailable:
		// Every 503 says when to retry (RFC 9110 §10.2.3), as errUnavailable
		// does on /v1: clients and proxies back off instead of hammering.
		h.Set("Retry-After", "1")
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(int((max(e.retryAfter, time.Second)+time.Second-1)/time.Second)))
	}
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(protocol.TokenError{Code: e.Code, Description: e.Description})
}
