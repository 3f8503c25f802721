package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/session"
)

// TestFunnel checks what the error funnel sends and logs: the public
// status, code and headers of the error a handler returns, and its cause
// in the log only.
func TestFunnel(t *testing.T) {
	const secret = "cause-7f3a: dial 10.0.0.9: password=hunter2"
	cause := errors.New(secret)
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       string // problem "code" or RFC 6749 "error"
		header     map[string]string
		logged     bool
		tokenShape bool // an RFC 6749 §5.2 body, not problem+json
	}{
		{"unknown error", cause, 500, "internal", map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store"}, true, false},
		{"wrapped unknown error", fmt.Errorf("list users: %w", cause), 500, "internal", nil, true, false},
		{"session store unavailable", fmt.Errorf("%w: %w", session.ErrUnavailable, cause), 503, "unavailable", map[string]string{"Retry-After": "1"}, true, false},
		{"problem with a cause", errUnavailable().because(cause), 503, "unavailable", map[string]string{"Retry-After": "1"}, true, false},
		{"problem without a cause", errNotFound(), 404, "not_found", nil, false, false},
		{"wrapped problem", fmt.Errorf("lookup: %w", errNotFound()), 404, "not_found", nil, false, false},
		{"invalid token", errInvalidToken(), 401, "invalid_token", map[string]string{"WWW-Authenticate": `Bearer realm="tessera", error="invalid_token"`}, false, false},
		{"token error with a cause", errTemporarilyUnavailable(cause), 503, "temporarily_unavailable", map[string]string{"Content-Type": "application/json", "Pragma": "no-cache", "Cache-Control": "no-store", "Retry-After": "1"}, true, true},
		{"token error 401", newTokenError(401, "invalid_client", "client authentication is required"), 401, "invalid_client", map[string]string{"WWW-Authenticate": `Basic realm="tessera", charset="UTF-8"`}, false, true},
		// A public error whose cause is another public error renders the outer one.
		{"problem caused by a token error", errUnavailable().because(errTemporarilyUnavailable(cause)), 503, "unavailable", nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			s := &Server{log: slog.New(slog.NewJSONHandler(&logs, nil))}
			h := s.handle(func(w http.ResponseWriter, r *http.Request) error { return tc.err })
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/x", nil)
			req.Pattern = "GET /x" // as the mux sets it: logged in place of the path
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			for k, v := range tc.header {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			key := "code"
			if tc.tokenShape {
				key = "error"
			}
			if body[key] != tc.code {
				t.Errorf("body %s: %v, want %q", key, body[key], tc.code)
			}
			if tc.code == "internal" {
				// Exactly the generic answer, nothing of the error.
				want := httptest.NewRecorder()
				writeProblem(want, errInternal())
				if rec.Body.String() != want.Body.String() {
					t.Errorf("body %s, want %s", rec.Body, want.Body)
				}
			}
			// The cause never reaches the client, in any form.
			for _, leak := range []string{"cause-7f3a", "hunter2", "10.0.0.9", "list users"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("the body carries the cause: %s", rec.Body)
				}
			}
			if got := strings.Contains(logs.String(), "cause-7f3a"); got != tc.logged {
				t.Errorf("cause logged: %v, want %v (log %q)", got, tc.logged, logs.String())
			}
			if tc.logged && !strings.Contains(logs.String(), `"route":"GET /x"`) {
				t.Errorf("the log line lacks the route: %q", logs.String())
			}
		})
	}
}

// A handler that succeeds is left alone.
func TestFunnelSuccess(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewJSONHandler(&logs, nil))}
	h := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 || logs.Len() != 0 {
		t.Fatalf("status %d, body %q, log %q", rec.Code, rec.Body, logs.String())
	}
}
