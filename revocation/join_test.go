package revocation

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// failing is a notifier whose Notify fails and whose changes the test makes.
type failing struct{ *Local }

func (failing) Notify(context.Context) error { return errors.New("down") }

// TestJoin: a change reported by either joined notifier wakes the joined
// waiters, repeatedly; Notify reaches every one and reports a failure.
func TestJoin(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := NewLocal(), failing{NewLocal()}
	j := Join(ctx, a, b)
	for i, src := range []*Local{a, b.Local, a, b.Local, b.Local} {
		ch := j.Changed()
		src.Notify(ctx)
		select {
		case <-ch:
		case <-time.After(10 * time.Second): // liveness, not timing
			t.Fatalf("change %d was not relayed", i)
		}
	}
	aChanged := a.Changed()
	if err := j.Notify(ctx); err == nil {
		t.Fatal("a joined notifier's failure was not reported")
	}
	if !closed(aChanged) {
		t.Fatal("Notify did not reach every joined notifier")
	}
}

// TestJoinWaitsWithOneGoroutine: a follower takes Changed at every poll,
// mostly without a notification in between; that must not leave a
// goroutine behind each time. The relays end with the context.
func TestJoinWaitsWithOneGoroutine(t *testing.T) {
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	j := Join(ctx, NewLocal(), NewLocal())
	j.Changed()
	before := runtime.NumGoroutine()
	for range 1000 {
		j.Changed()
	}
	if n := runtime.NumGoroutine() - before; n > 0 {
		t.Fatalf("%d goroutines more after 1000 calls without a notification", n)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second) // liveness, not timing
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after the context ended", runtime.NumGoroutine()-base)
		}
		time.Sleep(time.Millisecond)
	}
}
