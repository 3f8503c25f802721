package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/session"
)

// TestStepUpFanOutPostgres: two nodes on one PostgreSQL schema, each
// polling the feed only once a minute. B has the session cached when A
// marks it for a step-up; B refuses its next sensitive use as soon as
// PostgreSQL delivers the NOTIFY, without a restart, and a node started
// afterwards reads the mark from the store. After re-authenticating on B,
// the user changes the password on A.
func TestStepUpFanOutPostgres(t *testing.T) {
	ctx := context.Background()
	c := pgConfig(t)
	a, b := node(t, c), node(t, c)
	const pw = "correct horse battery staple"
	if _, err := a.Auth.CreateUser(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	w := do(a.Public(), "POST", "/v1/login", `{"username":"alice","password":"`+pw+`","delivery":"token"}`, "")
	if w.Code != 200 {
		t.Fatalf("login on A: %d %s", w.Code, w.Body)
	}
	at := "Bearer " + between(w.Body.String(), `"access_token":"`, `"`)
	w = do(b.Public(), "GET", "/v1/session", "", at)
	if w.Code != 200 || strings.Contains(w.Body.String(), "step_up_required") {
		t.Fatalf("whoami on B: %d %s", w.Code, w.Body)
	}
	sid := between(w.Body.String(), `"session":{"id":"`, `"`)

	changed := b.Sessions.Follower().Changed()
	if err := a.Sessions.RequireStepUp(ctx, sid, "new_device"); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, changed, "B's follower after A marked the session")
	w = do(b.Public(), "POST", "/v1/password", `{}`, at)
	if w.Code != 401 || !strings.Contains(w.Body.String(), "insufficient_user_authentication") ||
		!strings.Contains(w.Header().Get("WWW-Authenticate"), `error="insufficient_user_authentication"`) {
		t.Fatalf("password change on B after A's mark: %d %s %v", w.Code, w.Body, w.Header())
	}
	if w := do(b.Public(), "GET", "/v1/session", "", at); w.Code != 200 || !strings.Contains(w.Body.String(), `"step_up_required":true`) {
		t.Fatalf("whoami on B after A's mark: %d %s", w.Code, w.Body)
	}
	// A node that starts now (a restart) reads the mark from the store.
	if s, err := newNode(t, c, nil).Sessions.ValidateID(ctx, sid, session.Use{}); err != nil || !s.StepUpRequired {
		t.Fatalf("a restarted node: %+v, %v", s, err)
	}

	w = do(b.Public(), "POST", "/v1/reauth", `{"method":"password","password":"`+pw+`"}`, at)
	if w.Code != 200 {
		t.Fatalf("reauth on B: %d %s", w.Code, w.Body)
	}
	at2 := "Bearer " + between(w.Body.String(), `"access_token":"`, `"`)
	w = do(a.Public(), "POST", "/v1/password", `{"current_password":"`+pw+`","new_password":"a much better passphrase"}`, at2)
	if w.Code != 200 {
		t.Fatalf("password change on A after re-authenticating on B: %d %s", w.Code, w.Body)
	}
}
