package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/detect/storestate"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/redisstate"
	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// sessionUsedOnBothNodes observes one session's networks as the
// session_networks rule does, network 1 on node a and network 2 on node
// b, and fails t unless b sees both.
func sessionUsedOnBothNodes(t *testing.T, a, b detect.State, at time.Time) {
	t.Helper()
	ctx := context.Background()
	const key, w = "session_networks:sess-1", time.Hour
	if _, err := a.Observe(ctx, key, "198.51.100.0/24", at, w, 8); err != nil {
		t.Fatal(err)
	}
	got, err := b.Observe(ctx, key, "203.0.113.0/24", at.Add(time.Minute), w, 8)
	if err != nil || len(got) != 2 || got[0].Member != "203.0.113.0/24" || got[1].Member != "198.51.100.0/24" {
		t.Fatalf("node b sees %v, %v; want both nodes' networks", got, err)
	}
	if ok, err := a.Once(ctx, "alert:sess-1", at, w); err != nil || !ok {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	if ok, err := b.Once(ctx, "alert:sess-1", at.Add(time.Minute), w); err != nil || ok {
		t.Fatalf("the other node claims the incident again: %v, %v", ok, err)
	}
}

// TestDetectStateInStore: without Redis, two nodes on one PostgreSQL
// schema keep detection state in the store and see each other's; the
// cluster's cleanup deletes it once it has expired.
func TestDetectStateInStore(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c := pgConfig(t)
	na, nb := newNode(t, c, clk.Now), newNode(t, c, clk.Now)
	a, b := na.DetectState(nil), nb.DetectState(nil)
	if _, ok := a.(*storestate.State); !ok {
		t.Fatalf("without Redis the state is %T, want the store's", a)
	}
	sessionUsedOnBothNodes(t, a, b, clk.Now())

	// An hour-long window (its bucket expires an hour after its end); the
	// cleanup keeps state an hour past its expiry.
	n := func() int64 {
		t.Helper()
		v, err := b.Count(ctx, "burst", clk.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	n()
	clk.Add(3 * time.Hour)
	if ran, _, err := na.Collect(ctx); err != nil || !ran {
		t.Fatalf("cleanup: ran %v, %v", ran, err)
	}
	// Counting the first bucket again finds it gone.
	got, err := na.Store.DetectCount(ctx, "burst", 1<<40, 0, clk.Now())
	if err != nil || got != 1 {
		t.Fatalf("after the cleanup the store still counts %d (%v); want the expired bucket deleted", got, err)
	}
}

// TestDetectStateInRedis: with Redis, the state is there, shared.
func TestDetectStateInRedis(t *testing.T) {
	url := redistest.URL(t)
	c := testConfig(t)
	c.Redis.URL, c.Redis.Prefix = url, redistest.Prefix(t, url)
	na := newNode(t, c, nil)
	nb := newNode(t, c, nil)
	a, b := na.DetectState(nil), nb.DetectState(nil)
	if _, ok := a.(*redisstate.Detect); !ok {
		t.Fatalf("with Redis the state is %T, want Redis's", a)
	}
	sessionUsedOnBothNodes(t, a, b, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// TestDetectStateOneNode: on SQLite (one node) the process's own state is
// enough and spares the store's one writer; without one, the store.
func TestDetectStateOneNode(t *testing.T) {
	n := newNode(t, testConfig(t), nil)
	local := fakeState{}
	if got := n.DetectState(local); got != detect.State(local) {
		t.Fatalf("on SQLite with a local state: %T, want the local state", got)
	}
	if _, ok := n.DetectState(nil).(*storestate.State); !ok {
		t.Fatal("on SQLite without a local state: not the store's")
	}
	// A shared store is used even when a local state is offered.
	pg := newNode(t, pgConfig(t), nil)
	if _, ok := pg.DetectState(local).(*storestate.State); !ok {
		t.Fatal("on PostgreSQL: not the store's state")
	}
}

type fakeState struct{ detect.State }
