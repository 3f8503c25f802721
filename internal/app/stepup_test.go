package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
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

// BenchmarkStepUpFanOut: a step-up mark on node A until node B, polling
// the feed once a minute, has dropped its cached copy (woken by NOTIFY).
// mark-p50-ms is A's RequireStepUp alone.
func BenchmarkStepUpFanOut(b *testing.B) {
	ctx := context.Background()
	c := pgConfigB(b)
	na, nb := benchNode(b, c), benchNode(b, c)
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := na.Store.CreateUser(ctx, store.User{ID: "u-bench", Username: "bench", PasswordHash: "x", CreatedAt: now, PasswordChangedAt: now}); err != nil {
		b.Fatal(err)
	}
	var total, mark []time.Duration
	for b.Loop() {
		b.StopTimer()
		tok, s, err := na.Sessions.Create(ctx, session.NewSession{UserID: "u-bench", Username: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := nb.Sessions.Validate(ctx, tok.Reveal(), session.Use{}); err != nil {
			b.Fatal(err)
		}
		changed := nb.Sessions.Follower().Changed()
		b.StartTimer()
		start := time.Now()
		if err := na.Sessions.RequireStepUp(ctx, s.ID, "bench"); err != nil {
			b.Fatal(err)
		}
		marked := time.Now()
		select {
		case <-changed:
		case <-time.After(liveness):
			b.Fatal("B never heard of the mark")
		}
		total = append(total, time.Since(start))
		mark = append(mark, marked.Sub(start))
	}
	b.ReportMetric(pct(total, 50), "p50-ms")
	b.ReportMetric(pct(total, 99), "p99-ms")
	b.ReportMetric(pct(mark, 50), "mark-p50-ms")
}
