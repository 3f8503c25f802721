package server

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/tessera-auth/tessera/password"
)

// TestLoginQueueFullIsBusy (issue 10, R6): a login refused because the
// hashing queue is full answers 503 busy with Retry-After, at once.
func TestLoginQueueFullIsBusy(t *testing.T) {
	p := loginProblem(fmt.Errorf("authflow: %w", fmt.Errorf("authn: login: %w", password.ErrQueueFull)))
	if p.Status != http.StatusServiceUnavailable || p.Code != "busy" || p.retryAfter <= 0 {
		t.Fatalf("full hashing queue: %d %s retry %v, want 503 busy with Retry-After", p.Status, p.Code, p.retryAfter)
	}
}
