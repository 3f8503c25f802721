package readiness

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/internal/clocktest"
)

var (
	errFull  = errors.New("disk full")
	errOther = errors.New("unique violation")
)

func newTracker(c *clocktest.Clock) *Tracker {
	t := New(func(err error) bool { return errors.Is(err, errFull) }, 10*time.Second)
	t.now = c.Now
	return t
}

// probe is a probe write that fails with err and counts its runs.
type probe struct {
	err  error
	runs int
}

func (p *probe) run(context.Context) error { p.runs++; return p.err }

func TestReadyFollowsWrites(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	tr := newTracker(c)
	p := &probe{}
	tr.Record(nil)
	if err := tr.Ready(ctx, p.run); err != nil || p.runs != 0 {
		t.Fatalf("after a recent commit: %v, %d probes; want ready without probing", err, p.runs)
	}
	tr.Record(errOther)
	if err := tr.Ready(ctx, p.run); err != nil {
		t.Fatalf("an error that says nothing about the disk made the store not ready: %v", err)
	}
	// A write fails for lack of space; the probe fails alike.
	tr.Record(errFull)
	p.err = errFull
	if err := tr.Ready(ctx, p.run); !errors.Is(err, errFull) {
		t.Fatalf("after a failed write: %v, want not ready naming the failure", err)
	}
	// Space is back: the probe commits, and the store is ready again
	// without waiting for real traffic (a load balancer sends none to a
	// node that is not ready).
	p.err = nil
	if err := tr.Ready(ctx, p.run); err != nil {
		t.Fatalf("after the disk recovered: %v", err)
	}
}

func TestIdleStoreIsProbed(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	tr := newTracker(c)
	p := &probe{}
	if err := tr.Ready(ctx, p.run); err != nil || p.runs != 1 {
		t.Fatalf("first check: %v, %d probes; want one probe", err, p.runs)
	}
	c.Add(5 * time.Second)
	if tr.Ready(ctx, p.run); p.runs != 1 {
		t.Fatal("probed although a write committed within the interval")
	}
	// Idle past the interval, and the database went read-only meanwhile.
	c.Add(10 * time.Second)
	p.err = errFull
	if err := tr.Ready(ctx, p.run); !errors.Is(err, errFull) || p.runs != 2 {
		t.Fatalf("idle store: %v after %d probes; want the probe's failure", err, p.runs)
	}
}

func TestProbeErrorIsNotReady(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	tr := newTracker(c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := &probe{err: context.Canceled}
	if err := tr.Ready(ctx, p.run); !errors.Is(err, context.Canceled) {
		t.Fatalf("a probe that could not commit: %v, want not ready", err)
	}
}
