package redisstate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/detect/statetest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// TestDetect: the detection state in Redis, two nodes' clients under one
// prefix, passes the State conformance suite.
func TestDetect(t *testing.T) {
	url := redistest.URL(t)
	statetest.Run(t, func(t *testing.T) (a, b detect.State) {
		prefix := redistest.Prefix(t, url)
		return open(t, url, prefix, nil).Detect(nil), open(t, url, prefix, nil).Detect(nil)
	})
}

// TestDetectKeys: key names hold none of the rules' keys, and every key
// expires, but not before its window has passed.
func TestDetectKeys(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	c := open(t, url, prefix, nil)
	d := c.Detect(nil)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := d.Observe(ctx, "session_networks:sess-secret-id", "198.51.100.0/24", at, time.Hour, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Count(ctx, "user_sessions:alice", at, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Once(ctx, "alert:alice", at, time.Hour); err != nil {
		t.Fatal(err)
	}
	keys, err := c.rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Fatalf("keys %v, want 4 (seen, first, count, once)", keys)
	}
	for _, k := range keys {
		for _, s := range []string{"sess-secret-id", "alice", "session_networks"} {
			if strings.Contains(k, s) {
				t.Fatalf("key %q names %q", k, s)
			}
		}
		// Redis's TTL only collects garbage: never before the window (the
		// at of a call decides), and not long after.
		if ttl := c.rdb.PTTL(ctx, k).Val(); ttl <= time.Hour || ttl > time.Hour+detectSlack {
			t.Fatalf("key %s expires in %v; want after the hour's window, within the slack", k, ttl)
		}
	}
}

// TestDetectCluster: on a Redis Cluster too, where a script's keys must
// share a slot (Observe's two keys share a hash tag).
func TestDetectCluster(t *testing.T) {
	nodes := redistest.StartCluster(t, 3)
	url := fmt.Sprintf("redis://%s?addr=%s&addr=%s", nodes[0].Addr(), nodes[1].Addr(), nodes[2].Addr())
	statetest.Run(t, func(t *testing.T) (a, b detect.State) {
		prefix := t.Name() + ":" // the servers are the test's own
		a, b = open(t, url, prefix, nil).Detect(nil), open(t, url, prefix, nil).Detect(nil)
		if !a.(*Detect).c.Up() {
			t.Fatal("the cluster does not answer")
		}
		return a, b
	})
}

// TestDetectOutage: while Redis is down, detection state is the node's
// own (no error reaches the rules), logged once and counted; once Redis
// is back the nodes share it again.
func TestDetectOutage(t *testing.T) {
	srv := redistest.Start(t)
	logs := &logBuffer{}
	c := open(t, srv.URL(), "t:", slog.New(slog.NewJSONHandler(logs, nil)))
	other := open(t, srv.URL(), "t:", nil).Detect(nil)
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	d := c.Detect(nil)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const w = time.Hour

	if _, err := other.Observe(ctx, "k", "net-a", at, w, 8); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Observe(ctx, "k", "net-b", at.Add(time.Second), w, 8); err != nil || len(got) != 2 {
		t.Fatalf("shared: %v, %v; want both nodes' members", got, err)
	}

	srv.Kill()
	got, err := d.Observe(ctx, "k", "net-c", at.Add(2*time.Second), w, 8)
	if err != nil || len(got) != 1 || got[0].Member != "net-c" {
		t.Fatalf("during the outage: %v, %v; want this node's own state, without error", got, err)
	}
	if n, err := d.Count(ctx, "n", at, w); err != nil || n != 1 {
		t.Fatalf("count during the outage: %d, %v", n, err)
	}
	if ok, err := d.Once(ctx, "o", at, w); err != nil || !ok {
		t.Fatalf("once during the outage: %v, %v", ok, err)
	}
	if ok, _ := d.Once(ctx, "o", at, w); ok {
		t.Fatal("the node's own claim does not hold during the outage")
	}
	if v := testutil.ToFloat64(c.fallback.WithLabelValues(useDetect)); v < 4 {
		t.Fatalf("tessera_redis_fallback_total{use=detect_state} = %v, want the 4 operations", v)
	}
	if n := logs.count("redis unavailable"); n != 1 {
		t.Fatalf("%d outage lines, want 1", n)
	}

	srv.Restart()
	eventually(t, "the node noticed Redis is back", c.Up)
	if _, err := other.Observe(ctx, "k", "net-d", at.Add(3*time.Second), w, 8); err != nil {
		t.Fatal(err)
	}
	got, err = d.Observe(ctx, "k", "net-e", at.Add(4*time.Second), w, 8)
	if err != nil || len(got) != 2 || got[0].Member != "net-e" || got[1].Member != "net-d" {
		t.Fatalf("after recovery: %v, %v; want both nodes' members again (Redis restarted empty)", got, err)
	}
}

// TestDetectTwoProcesses: two processes, each with its own client of one
// Redis, share the detection state.
func TestDetectTwoProcesses(t *testing.T) {
	url, prefix := os.Getenv("TESSERA_TEST_DETECT_REDIS"), os.Getenv("TESSERA_TEST_DETECT_PREFIX")
	if !statetest.IsChild() {
		url = redistest.URL(t)
		prefix = redistest.Prefix(t, url)
	}
	statetest.AcrossProcesses(t, []string{"TESSERA_TEST_DETECT_REDIS=" + url, "TESSERA_TEST_DETECT_PREFIX=" + prefix},
		func(t *testing.T) detect.State { return open(t, url, prefix, nil).Detect(nil) })
}
