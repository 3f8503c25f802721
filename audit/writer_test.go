package audit_test

import (
	"context"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/audit"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
)

func run(t *testing.T, w *audit.Writer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func records(t *testing.T, st store.Store) []store.AuditRecord {
	t.Helper()
	r, err := st.AuditRecords(context.Background(), store.AuditQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Successful validations are summarised: one record for the first use of a
// session from an IP network with a user agent, none for the repeats.
func TestValidationSummary(t *testing.T) {
	d := sqliteDB(t)
	w := audit.NewWriter(d.st, testChain(t), audit.Config{Node: "n1"})
	run(t, w)
	ctx := context.Background()
	use := func(sid, ip, ua, reason string) {
		w.Publish(ctx, event.Event{Kind: event.SessionValidated, At: t0, SessionID: sid, UserID: "u1", IP: netip.MustParseAddr(ip), UserAgent: ua, Reason: reason})
	}
	for range 100 {
		use("s1", "192.0.2.1", "Firefox", "")
	}
	use("s1", "192.0.2.200", "Firefox", "")      // same /24: a repeat
	use("s1", "192.0.2.1", "Chrome", "")         // another device
	use("s1", "198.51.100.1", "Firefox", "")     // another network
	use("s2", "192.0.2.1", "Firefox", "")        // another session
	use("s1", "2001:db8:1:2::1", "Firefox", "")  // IPv6 …
	use("s1", "2001:db8:1:3::9", "Firefox", "")  // … same /48
	use("s1", "192.0.2.1", "Firefox", "revoked") // a revoked token presented …
	use("s1", "192.0.2.1", "Firefox", "revoked") // … again
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := records(t, d.st)
	if len(got) != 6 {
		for _, r := range got {
			t.Logf("%s %s %s %s", r.SessionID, r.IP, r.UserAgent, r.Details)
		}
		t.Fatalf("%d records, want 6 (first uses and one refused presentation)", len(got))
	}
	if last := got[5]; last.Outcome != audit.OutcomeFailure || !strings.Contains(string(last.Details), `"reason":"revoked"`) {
		t.Fatalf("refused presentation: %+v", last)
	}
}

// A full queue drops ordinary records, counts them and says so in the log
// itself; a critical record waits for room instead.
func TestFullQueue(t *testing.T) {
	d := sqliteDB(t)
	clk := clocktest.New(t0)
	w := audit.NewWriter(d.st, testChain(t), audit.Config{Node: "n1", Queue: 2, CriticalWait: time.Hour, Now: clk.Now})
	ctx := context.Background()
	for i := range 5 {
		w.Publish(ctx, event.Event{Kind: event.LoginFailed, At: t0, UserID: "u" + string(rune('0'+i)), Reason: event.ReasonBadCredentials})
	}
	if w.Dropped() != 3 {
		t.Fatalf("dropped %d, want 3", w.Dropped())
	}
	critical := make(chan struct{})
	go func() {
		w.Publish(ctx, event.Event{Kind: event.AdminAction, At: t0, Actor: event.ActorAdminAPI, Action: event.ActionUserRevoke, UserID: "victim"})
		close(critical)
	}()
	for w.Waiting() == 0 {
		select {
		case <-critical:
			t.Fatal("a critical record did not wait for room in the full queue")
		default:
			runtime.Gosched()
		}
	}
	run(t, w)
	<-critical
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if w.Dropped() != 3 {
		t.Fatalf("the critical record was dropped (%d dropped)", w.Dropped())
	}
	var admin, gap bool
	for _, r := range records(t, d.st) {
		admin = admin || r.Event == "admin_action" && r.UserID == "victim"
		gap = gap || r.Event == audit.EventDropped && strings.Contains(string(r.Details), `"dropped":3`)
	}
	if !admin || !gap {
		t.Fatalf("admin action recorded %v, drop recorded %v", admin, gap)
	}
	if rep, _ := audit.Verify(ctx, d.st, testChain(t), nil); !rep.OK() {
		t.Fatalf("verify: %+v", rep)
	}
}

// The writer checkpoints the chain every CheckpointEvery records.
func TestWriterCheckpoints(t *testing.T) {
	d := sqliteDB(t)
	clk := clocktest.New(t0)
	w := audit.NewWriter(d.st, testChain(t), audit.Config{Node: "n1", CheckpointEvery: 3, CheckpointInterval: time.Hour, Now: clk.Now})
	run(t, w)
	ctx := context.Background()
	for i := range 7 {
		w.Publish(ctx, event.Event{Kind: event.TokenIssued, At: t0, UserID: "u", SessionID: "s", Token: event.TokenAccess, JTI: "j" + string(rune('0'+i))})
		if err := w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cps, err := d.st.AuditCheckpoints(ctx)
	if err != nil || len(cps) < 2 {
		t.Fatalf("checkpoints = %+v, %v", cps, err)
	}
	rep, _ := audit.Verify(ctx, d.st, testChain(t), nil)
	if !rep.OK() || rep.Records != 7 || rep.Checkpoints != len(cps) {
		t.Fatalf("verify: %+v", rep)
	}
}

// An alert is a record detection (the system) made about a user, not
// one of the user's acts, and it is never dropped for a full queue: the
// alert is what an operator reads the log for during an attack, when the
// queue is fullest. So is the step-up mark an alert's action sets.
func TestAlertRecords(t *testing.T) {
	for _, k := range []event.Kind{event.AlertRaised, event.StepUpRequired} {
		if !audit.Critical(k) {
			t.Errorf("%s is not critical", k)
		}
		r := audit.Record(event.Event{Kind: k, At: t0, UserID: "victim", SessionID: "s1", Reason: "session_networks", Action: "step_up"}, "n1")
		if r.Actor != audit.ActorSystem || r.UserID != "victim" || !strings.Contains(string(r.Details), `"reason":"session_networks"`) {
			t.Errorf("%s: %+v %s", k, r, r.Details)
		}
	}
}
