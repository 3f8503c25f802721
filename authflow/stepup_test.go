package authflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/session"
)

// TestStepUpMarkNeedsReauth: a session marked for a step-up is refused
// every sensitive use however recent its authentication, and the session
// re-authentication renews it into has no mark.
func TestStepUpMarkNeedsReauth(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	flows := authflow.New(f.an, f.sessions, f.st, f.oauth, authflow.Config{
		TokenIdle: tokenIdle, TokenAbsolute: tokenAbsol, Now: func() time.Time { return f.now },
	})
	f.now = f.now.Add(time.Second)
	res, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if err != nil || res.MFA != nil {
		t.Fatal(res, err)
	}
	if err := flows.RequireRecent(ctx, res.Session); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	f.now = f.now.Add(time.Second)
	if err := f.sessions.RequireStepUp(ctx, res.Session.ID, "new_device"); err != nil {
		t.Fatal(err)
	}
	// A copy of the session from before the mark (another node's, or
	// this request's own while detection ran off the request path).
	if err := flows.RequireRecent(ctx, res.Session); !errors.As(err, new(*authflow.StepUpError)) {
		t.Fatalf("a stale unmarked copy of a marked session: %v, want a StepUpError", err)
	}
	cur, err := f.sessions.Validate(ctx, res.SessionToken.Reveal(), session.Use{})
	if err != nil {
		t.Fatal(err)
	}
	var su *authflow.StepUpError
	if err := flows.RequireRecent(ctx, cur); !errors.As(err, &su) || su.MaxAge != 10*time.Minute {
		t.Fatalf("marked session one second after login: %v, want a StepUpError", err)
	}
	again, err := flows.Reauth(ctx, cur, authflow.Reauth{Method: mfa.Password, Password: pw}, authflow.Target{Delivery: authflow.Cookie}, use)
	if err != nil {
		t.Fatal(err)
	}
	if again.Session.StepUpRequired || again.Session.ID == cur.ID {
		t.Fatalf("renewed session: %+v", again.Session)
	}
	if err := flows.RequireRecent(ctx, again.Session); err != nil {
		t.Fatalf("after re-authentication: %v", err)
	}
	if _, err := f.sessions.Validate(ctx, res.SessionToken.Reveal(), session.Use{}); !errors.Is(err, session.ErrRevoked) {
		t.Fatalf("the marked session after its renewal: %v, want ErrRevoked", err)
	}
}
