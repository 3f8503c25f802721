package authn

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
)

func TestLoginEvents(t *testing.T) {
	a, _, _, now := newAuth(t, cheap)
	rec := &eventtest.Recorder{}
	a.ev = rec
	ctx := context.Background()
	u, err := a.CreateUser(ctx, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(ctx, "alice", pw, ip); err != nil {
		t.Fatal(err)
	}
	// An accepted password is not yet a login: authflow publishes
	// LoginSucceeded once the session exists.
	if e := rec.Of(event.LoginSucceeded); len(e) != 0 {
		t.Fatalf("LoginSucceeded from authn: %+v", e)
	}
	if got, err := a.Login(ctx, "alice", "wrong password", ip); err == nil || got.ID != "" {
		t.Fatalf("a wrong password returned user %q, %v", got.ID, err)
	}
	a.Login(ctx, "nobody", "wrong password", ip)
	f := rec.Of(event.LoginFailed)
	if len(f) != 2 || f[0].Reason != event.ReasonBadCredentials || f[0].UserID != u.ID || f[0].IP != ip || !f[0].At.Equal(*now) ||
		f[1].Reason != event.ReasonBadCredentials || f[1].UserID != "" {
		t.Fatalf("LoginFailed: %+v", f)
	}
	// The per-account-and-IP budget is 3 failures.
	a.Login(ctx, "alice", "wrong password", ip)
	a.Login(ctx, "alice", "wrong password", ip)
	a.Login(ctx, "alice", "wrong password", ip)
	f = rec.Of(event.LoginFailed)
	last := f[len(f)-1]
	if last.Reason != event.ReasonThrottled || last.RetryAfter <= 0 || last.RetryAfter > time.Minute {
		t.Fatalf("throttled LoginFailed: %+v", last)
	}
}
