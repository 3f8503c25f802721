package redisstate

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// eventually waits up to 20 s for cond: a hang guard for what happens in
// the background (the probe, go-redis reconnecting), not a timing claim.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutage kills a Redis of the test's own under a node: throttling
// goes on per node, with the node's earlier failures counted; the outage
// is logged once and counted; the replay cache fails closed; notifying
// does not fail the revocation; and when Redis is back (empty, as after a
// crash without persistence) the node uses it again by itself, with one
// more log line, and its subscription wakes followers again.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	logs := &logBuffer{}
	c := open(t, srv.URL(), "t:", slog.New(slog.NewJSONHandler(logs, nil)))
	other := open(t, srv.URL(), "t:", nil) // another node
	runCtx, cancel := context.WithCancel(context.Background())
	n := c.Notifier()
	subscribed := n.Changed()
	done := make(chan struct{}, 2)
	go func() { c.Run(runCtx); done <- struct{}{} }()
	go func() { n.Run(runCtx); done <- struct{}{} }()
	defer func() { cancel(); <-done; <-done }()
	wait(t, subscribed, "the first subscription")

	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := c.Limiter("account_ip", 3, time.Minute, clk.Now)
	for range 2 {
		if ok, _ := l.Allow(ctx, "alice|192.0.2.1"); !ok {
			t.Fatal("refused within the burst")
		}
		l.Fail(ctx, "alice|192.0.2.1")
	}
	if !c.Up() || testutil.ToFloat64(c.upGauge) != 1 {
		t.Fatal("tessera_redis_up is not 1 while Redis answers")
	}

	srv.Kill()
	// The first operation to fail takes the fallback, and the node's own
	// buckets already hold its two failures: one attempt is left.
	if ok, _ := l.Allow(ctx, "alice|192.0.2.1"); !ok {
		t.Fatal("third attempt refused: the fallback lost the node's count")
	}
	l.Fail(ctx, "alice|192.0.2.1")
	if ok, wait := l.Allow(ctx, "alice|192.0.2.1"); ok || wait != time.Minute {
		t.Fatalf("fourth attempt with Redis down: ok=%v wait=%v; want throttled per node", ok, wait)
	}
	if c.Up() || testutil.ToFloat64(c.upGauge) != 0 {
		t.Fatal("tessera_redis_up is not 0 during the outage")
	}
	if v := testutil.ToFloat64(c.fallback.WithLabelValues(useThrottle)); v < 3 {
		t.Fatalf("tessera_redis_fallback_total{use=throttle} = %v, want the 3 operations", v)
	}
	if _, err := c.Replay().Use(ctx, "totp:u:1", time.Minute); !errors.Is(err, ErrDown) {
		t.Fatalf("replay cache with Redis down: %v, want ErrDown (callers fail closed)", err)
	}
	if err := n.Notify(ctx); err != nil {
		t.Fatalf("notify during a known outage: %v; want nil (the feed poll carries it)", err)
	}
	known := c.Known(clk.Now)
	if known.Known(ctx, "alice", "192.0.2.1") {
		t.Fatal("an address is known from nowhere")
	}
	known.Remember(ctx, "dave", "192.0.2.9") // a correct login during the outage
	if !known.Known(ctx, "dave", "192.0.2.9") {
		t.Fatal("an address that logged in during the outage is not known on its node")
	}
	for range 20 {
		l.Fail(ctx, "bob|192.0.2.1")
	}
	if got := logs.count("redis unavailable"); got != 1 {
		t.Fatalf("%d outage lines, want exactly 1 for one outage", got)
	}

	srv.Restart()
	eventually(t, "the node noticed Redis is back", c.Up)
	if !known.Known(ctx, "dave", "192.0.2.9") {
		t.Fatal("after recovery, the node forgot an address learned during the outage")
	}
	if got := logs.count("redis available again"); got != 1 {
		t.Fatalf("%d recovery lines, want 1", got)
	}
	// Shared again: a failure on this node counts on the other.
	woken := n.Changed()
	eventually(t, "the subscription is back", func() bool {
		// Until the subscriber has reconnected, a message may reach
		// nobody; publishing again is what a later revocation does.
		if err := other.Notifier().Notify(ctx); err != nil {
			return false
		}
		select {
		case <-woken:
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
	l2 := other.Limiter("account_ip", 3, time.Minute, clk.Now)
	for range 3 {
		l.Fail(ctx, "carol|192.0.2.1")
	}
	if ok, _ := l2.Allow(ctx, "carol|192.0.2.1"); ok {
		t.Fatal("after recovery, failures on one node do not count on another")
	}
	if logs.count("redis unavailable") != 1 {
		t.Fatal("recovery logged another outage")
	}
}
