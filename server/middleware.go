package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// common wraps every handler of a listener: security headers, panic
// recovery, problem bodies for the mux's own 404 and 405, metrics, and the
// optional request log.
func (s *Server) common(listener string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if r.URL.Path != verifyPath {
			// Forward auth's 200 goes to a proxy, never to a browser, and
			// its handler sets these on the answers a proxy may pass on:
			// its hot path is spared five header writes.
			securityHeaders(w.Header(), r)
		}
		rw := &responseWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// Through the funnel, as every failure: it logs the cause
				// (never the request, which may hold credentials) and
				// renders the problem, unless the handler had already
				// answered.
				err := fmt.Errorf("panic serving request: %v", v)
				if rw.wroteHeader {
					s.logCause(r, rw.status, "internal", err)
				} else {
					// Nothing the failed handler meant to set is sent.
					rw.Header().Del("Set-Cookie")
					s.fail(rw, r, errInternal().because(err))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			if s.metrics != nil {
				s.metrics.observe(listener, route, rw.status, time.Since(start))
			}
			if s.cfg.LogRequests {
				// The route pattern, never the path or query: a token someone
				// put in a path segment or the query must not reach the log.
				s.log.Info("request", "listener", listener, "method", r.Method, "route", route,
					"status", rw.status, "duration_ms", float64(time.Since(start).Microseconds())/1000, "ip", s.clientIP(r))
			}
		}()
		next.ServeHTTP(rw, r)
	})
}

// securityHeaders sets the headers every answer a browser may see carries.
func securityHeaders(h http.Header, r *http.Request) {
	// Assigned directly: the keys are already canonical, and shared
	// read-only slices save four allocations per request.
	h["X-Content-Type-Options"] = hdrNosniff
	h["X-Frame-Options"] = hdrDeny
	h["Referrer-Policy"] = hdrNoReferrer
	h["Content-Security-Policy"] = hdrCSP
	if r.TLS != nil {
		// Tessera serves TLS itself (tls_cert/tls_key): browsers must
		// never fall back to plain HTTP. Never sent over plain HTTP
		// (RFC 6797 §7.2), where a TLS proxy in front owns the policy.
		h["Strict-Transport-Security"] = hdrHSTS
	}
}

var (
	hdrNosniff    = []string{"nosniff"}
	hdrDeny       = []string{"DENY"}
	hdrNoReferrer = []string{"no-referrer"}
	hdrCSP        = []string{"default-src 'none'; frame-ancestors 'none'"}
	// One year (RFC 6797 §6.1.1); no includeSubDomains or preload: those
	// bind hosts Tessera does not own.
	hdrHSTS = []string{"max-age=31536000"}
)

// responseWriter records the status and turns the plain-text 404 and 405
// that http.ServeMux writes into problem+json.
type responseWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	swallow     bool
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.status = code
	h := w.Header()
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		var p *problem
		if code == http.StatusNotFound {
			p = errNotFound()
		} else {
			p = newProblem(code, "method_not_allowed", "This method is not allowed here; see the Allow header.")
		}
		h.Set("Content-Type", "application/problem+json")
		h.Del("Content-Length")
		w.ResponseWriter.WriteHeader(code)
		writeBody(w.ResponseWriter, p)
		w.swallow = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeBody(w http.ResponseWriter, v any) {
	json.NewEncoder(w).Encode(v)
}
