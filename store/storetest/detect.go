package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/detect/statetest"
	"github.com/tessera-auth/tessera/detect/storestate"
	"github.com/tessera-auth/tessera/store"
)

// testDetectState: the store's detection state, made a detect.State by
// storestate, passes the State conformance suite (two handles on one
// store: its backend's own tests run it across two pools too).
func testDetectState(t *testing.T, s store.Store) {
	statetest.Run(t, func(t *testing.T) (a, b detect.State) {
		return storestate.New(s), storestate.New(s)
	})
}

// testDetectStateExpiry: the cleanup deletes what has expired by the
// writers' clock and nothing else; what it deletes no answer needed.
func testDetectStateExpiry(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := base
	if _, err := s.DetectObserve(ctx, "seen", "old", t0, t0.Add(-time.Minute), 5, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DetectObserve(ctx, "seen", "new", t0.Add(time.Minute), t0, 5, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DetectCount(ctx, "count", 10, 1, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DetectCount(ctx, "count", 11, 2, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.DetectOnce(ctx, "claim-old", t0, t0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("DetectOnce = %v, %v", ok, err)
	}
	if ok, err := s.DetectOnce(ctx, "claim-new", t0, t0.Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("DetectOnce = %v, %v", ok, err)
	}
	n, err := s.DeleteExpiredDetectState(ctx, t0.Add(time.Minute+time.Second))
	if err != nil || n != 3 {
		t.Fatalf("DeleteExpiredDetectState = %d, %v; want the 3 entries expired at +1m", n, err)
	}
	// What is left answers as before; a claim deleted after its end is
	// claimable, as it was.
	got, err := s.DetectObserve(ctx, "seen", "new", t0.Add(time.Minute), t0, 5, t0.Add(2*time.Minute))
	if err != nil || len(got) != 1 || got[0].Member != "new" || !got[0].First.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after cleanup: %v, %v; want only new", got, err)
	}
	if c, err := s.DetectCount(ctx, "count", 11, 2, t0.Add(2*time.Minute)); err != nil || c != 2 {
		t.Fatalf("count after cleanup = %d, %v; want bucket 11's 2", c, err)
	}
	if ok, err := s.DetectOnce(ctx, "claim-new", t0.Add(time.Minute+time.Second), t0.Add(time.Hour)); err != nil || ok {
		t.Fatalf("a live claim was lost to the cleanup: %v, %v", ok, err)
	}
	if ok, err := s.DetectOnce(ctx, "claim-old", t0.Add(time.Minute+time.Second), t0.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("an ended claim is not claimable: %v, %v", ok, err)
	}
}
