package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

func testAlert(i int, user, rule string) store.Alert {
	return store.Alert{ID: fmt.Sprintf("a-%03d", i), At: base.Add(time.Duration(i) * time.Minute), Rule: rule, Severity: "high",
		Action: "revoke_session", UserID: user, SessionID: fmt.Sprintf("s-%d", i), ClientID: "app", IP: "192.0.2.7",
		Evidence: []byte(`{"networks":"2"}`)}
}

func testDelivery(a store.Alert, hook string, next time.Time) store.WebhookDelivery {
	return store.WebhookDelivery{ID: "msg-" + a.ID + "-" + hook, AlertID: a.ID, Webhook: hook, Body: []byte(`{"type":"alert.raised"}`),
		CreatedAt: a.At, Status: store.DeliveryPending, NextAt: next}
}

// testAlerts: an alert and its outbox rows are stored together, every
// field round trips, and listing filters and pages newest first.
func testAlerts(t *testing.T, s store.Store) {
	ctx := context.Background()
	var all []store.Alert
	for i := range 6 {
		a := testAlert(i, []string{"alice", "bob"}[i%2], []string{"refresh_reuse", "device_change", "refresh_reuse"}[i%3])
		if i == 5 {
			a.Severity, a.Action = "low", "alert"
		}
		if err := s.PutAlert(ctx, a, []store.WebhookDelivery{testDelivery(a, "siem", a.At), testDelivery(a, "chat", a.At)}); err != nil {
			t.Fatal(err)
		}
		all = append(all, a)
	}
	if err := s.PutAlert(ctx, all[0], nil); err == nil {
		t.Fatal("a second alert with the same id was stored")
	}
	got, err := s.ListAlerts(ctx, store.AlertQuery{Limit: 100})
	if err != nil || len(got) != 6 {
		t.Fatalf("ListAlerts = %d alerts, %v", len(got), err)
	}
	for i, g := range got {
		want := all[len(all)-1-i]
		if g.Seq == 0 || (i > 0 && g.Seq >= got[i-1].Seq) {
			t.Fatalf("alert %d: Seq %d not descending", i, g.Seq)
		}
		want.Seq = g.Seq
		if !reflect.DeepEqual(g, want) {
			t.Fatalf("alert %d:\n got %+v\nwant %+v", i, g, want)
		}
	}
	for _, c := range []struct {
		q    store.AlertQuery
		want []string
	}{
		{store.AlertQuery{UserID: "alice"}, []string{"a-004", "a-002", "a-000"}},
		{store.AlertQuery{SessionID: "s-3"}, []string{"a-003"}},
		{store.AlertQuery{Rule: "device_change"}, []string{"a-004", "a-001"}},
		{store.AlertQuery{Action: "alert"}, []string{"a-005"}},
		{store.AlertQuery{Severity: "high", UserID: "bob"}, []string{"a-003", "a-001"}},
		{store.AlertQuery{Since: base.Add(2 * time.Minute), Until: base.Add(4 * time.Minute)}, []string{"a-003", "a-002"}},
		{store.AlertQuery{Before: got[3].Seq}, []string{"a-001", "a-000"}},
		{store.AlertQuery{Limit: 2}, []string{"a-005", "a-004"}},
	} {
		if c.q.Limit == 0 {
			c.q.Limit = 100
		}
		page, err := s.ListAlerts(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range page {
			ids = append(ids, a.ID)
		}
		if !reflect.DeepEqual(ids, c.want) {
			t.Errorf("ListAlerts(%+v) = %v, want %v", c.q, ids, c.want)
		}
	}
	if n, err := s.CountPendingDeliveries(ctx); err != nil || n != 12 {
		t.Fatalf("CountPendingDeliveries = %d, %v; want 12", n, err)
	}
	d, err := s.WebhookDelivery(ctx, "msg-a-002-chat")
	want := testDelivery(all[2], "chat", all[2].At)
	want.UpdatedAt = want.CreatedAt
	if err != nil || !reflect.DeepEqual(d, want) {
		t.Fatalf("WebhookDelivery =\n %+v, %v\nwant %+v", d, err, want)
	}
	if _, err := s.WebhookDelivery(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("WebhookDelivery(unknown) = %v, want ErrNotFound", err)
	}
}

// testDeliveryOutbox: claims take due rows under a lease, attempts are
// logged and reschedule, release or finish their delivery, and pruning
// keeps what is still pending.
func testDeliveryOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := testAlert(1, "alice", "refresh_reuse"), testAlert(2, "bob", "refresh_reuse")
	if err := s.PutAlert(ctx, a, []store.WebhookDelivery{testDelivery(a, "siem", a.At)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAlert(ctx, b, []store.WebhookDelivery{testDelivery(b, "siem", b.At.Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	now := b.At
	claim := func(holder string, at time.Time) []string {
		t.Helper()
		ds, err := s.ClaimDeliveries(ctx, holder, at, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range ds {
			if d.LeaseHolder != holder || !d.LeaseUntil.Equal(at.Add(time.Minute)) {
				t.Fatalf("claimed %s: lease %q until %v", d.ID, d.LeaseHolder, d.LeaseUntil)
			}
			ids = append(ids, d.ID)
		}
		return ids
	}
	// Only a's delivery is due; b's is an hour away.
	if got := claim("n1", now); !reflect.DeepEqual(got, []string{"msg-a-001-siem"}) {
		t.Fatalf("first claim = %v", got)
	}
	// Leased: nobody else gets it while the lease runs.
	if got := claim("n2", now.Add(30*time.Second)); len(got) != 0 {
		t.Fatalf("claim under a running lease = %v", got)
	}
	// The holder died: the lease runs out and another node takes it.
	if got := claim("n2", now.Add(time.Minute)); !reflect.DeepEqual(got, []string{"msg-a-001-siem"}) {
		t.Fatalf("claim after the lease = %v", got)
	}
	at := now.Add(61 * time.Second)
	retry := store.DeliveryAttempt{DeliveryID: "msg-a-001-siem", AlertID: a.ID, Webhook: "siem", Attempt: 1, At: at,
		StatusCode: 500, Error: "status 500", Duration: 1500 * time.Microsecond, Outcome: store.DeliveryPending}
	if err := s.RecordAttempt(ctx, retry, store.DeliveryUpdate{Status: store.DeliveryPending, NextAt: at.Add(5 * time.Second), LastError: "status 500"}); err != nil {
		t.Fatal(err)
	}
	d, err := s.WebhookDelivery(ctx, "msg-a-001-siem")
	if err != nil || d.Status != store.DeliveryPending || d.Attempts != 1 || !d.NextAt.Equal(at.Add(5*time.Second)) ||
		d.LeaseHolder != "" || !d.LeaseUntil.IsZero() || d.LastError != "status 500" || !d.UpdatedAt.Equal(at) {
		t.Fatalf("after a failed attempt: %+v, %v", d, err)
	}
	// Released, but not due again before NextAt.
	if got := claim("n1", at.Add(4*time.Second)); len(got) != 0 {
		t.Fatalf("claim before the retry is due = %v", got)
	}
	if got := claim("n1", at.Add(5*time.Second)); !reflect.DeepEqual(got, []string{"msg-a-001-siem"}) {
		t.Fatalf("claim of the retry = %v", got)
	}
	ok := retry
	ok.Attempt, ok.At, ok.StatusCode, ok.Error, ok.Outcome = 2, at.Add(6*time.Second), 204, "", store.DeliveryDelivered
	if err := s.RecordAttempt(ctx, ok, store.DeliveryUpdate{Status: store.DeliveryDelivered, NextAt: ok.At}); err != nil {
		t.Fatal(err)
	}
	// A late attempt of a node whose lease ran out is logged, but does
	// not undo the delivery.
	late := retry
	late.Attempt, late.At = 2, at.Add(7*time.Second)
	if err := s.RecordAttempt(ctx, late, store.DeliveryUpdate{Status: store.DeliveryPending, NextAt: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.WebhookDelivery(ctx, "msg-a-001-siem"); d.Status != store.DeliveryDelivered || d.Attempts != 2 {
		t.Fatalf("after delivery and a late attempt: %+v", d)
	}
	if got := claim("n1", now.Add(2*time.Hour)); !reflect.DeepEqual(got, []string{"msg-a-002-siem"}) {
		t.Fatalf("claim after delivery = %v (a delivered row must not come back)", got)
	}
	failed := store.DeliveryAttempt{DeliveryID: "msg-a-002-siem", AlertID: b.ID, Webhook: "siem", Attempt: 1, At: now.Add(2 * time.Hour),
		Error: "connection refused", Outcome: store.DeliveryFailed}
	if err := s.RecordAttempt(ctx, failed, store.DeliveryUpdate{Status: store.DeliveryFailed, NextAt: failed.At, LastError: failed.Error}); err != nil {
		t.Fatal(err)
	}
	if got := claim("n1", now.Add(3*time.Hour)); len(got) != 0 {
		t.Fatalf("claim after give-up = %v", got)
	}
	if n, err := s.CountPendingDeliveries(ctx); err != nil || n != 0 {
		t.Fatalf("CountPendingDeliveries = %d, %v", n, err)
	}
	if err := s.RecordAttempt(ctx, store.DeliveryAttempt{DeliveryID: "nope", At: now}, store.DeliveryUpdate{Status: store.DeliveryFailed}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RecordAttempt(unknown) = %v, want ErrNotFound", err)
	}

	log, err := s.DeliveryAttempts(ctx, store.DeliveryQuery{Limit: 100})
	if err != nil || len(log) != 4 {
		t.Fatalf("DeliveryAttempts = %d, %v", len(log), err)
	}
	retry.Seq = log[3].Seq
	if !reflect.DeepEqual(log[3], retry) {
		t.Fatalf("oldest log entry:\n got %+v\nwant %+v", log[3], retry)
	}
	for _, c := range []struct {
		q    store.DeliveryQuery
		want int
	}{
		{store.DeliveryQuery{AlertID: a.ID}, 3},
		{store.DeliveryQuery{Outcome: store.DeliveryFailed}, 1},
		{store.DeliveryQuery{AlertID: a.ID, Outcome: store.DeliveryDelivered}, 1},
		{store.DeliveryQuery{Before: log[1].Seq}, 2},
		{store.DeliveryQuery{Limit: 1}, 1},
	} {
		if c.q.Limit == 0 {
			c.q.Limit = 100
		}
		if got, err := s.DeliveryAttempts(ctx, c.q); err != nil || len(got) != c.want {
			t.Errorf("DeliveryAttempts(%+v) = %d entries, %v; want %d", c.q, len(got), err, c.want)
		}
	}

	// Pruning: a third alert still pending survives any cutoff.
	c := testAlert(3, "carol", "refresh_reuse")
	if err := s.PutAlert(ctx, c, []store.WebhookDelivery{testDelivery(c, "siem", c.At.Add(24*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneAlerts(ctx, now.Add(48*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneAlerts = %d, %v; want 2", n, err)
	}
	if left, _ := s.ListAlerts(ctx, store.AlertQuery{Limit: 10}); len(left) != 1 || left[0].ID != c.ID {
		t.Fatalf("after pruning: %+v", left)
	}
	if log, _ := s.DeliveryAttempts(ctx, store.DeliveryQuery{Limit: 10}); len(log) != 0 {
		t.Fatalf("after pruning, %d log entries", len(log))
	}
	if _, err := s.WebhookDelivery(ctx, "msg-a-001-siem"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a delivered row survived pruning: %v", err)
	}
	if _, err := s.WebhookDelivery(ctx, "msg-a-003-siem"); err != nil {
		t.Fatalf("the pending row was pruned: %v", err)
	}
}

// testDeliveryClaimRace: claimers racing over the same due rows get each
// row exactly once while the leases run.
func testDeliveryClaimRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	const alerts = 40
	for i := range alerts {
		a := testAlert(100+i, "alice", "burst")
		if err := s.PutAlert(ctx, a, []store.WebhookDelivery{testDelivery(a, "siem", base)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprintf("n%d", w)
			for range 20 {
				ds, err := s.ClaimDeliveries(ctx, holder, base.Add(time.Hour), time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, d := range ds {
					if prev, dup := seen[d.ID]; dup {
						t.Errorf("%s claimed by %s and %s", d.ID, prev, holder)
					}
					seen[d.ID] = holder
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != alerts {
		t.Fatalf("%d of %d rows claimed", len(seen), alerts)
	}
}
