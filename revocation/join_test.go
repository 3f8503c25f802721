package revocation

import (
	"context"
	"errors"
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
