package probe

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/internal/clocktest"
)

// TestIntrospectBudgets: inactive introspections drain the calling
// client's and the address's buckets; the failure that empties one is one
// event; other clients and addresses keep their budgets; it refills.
func TestIntrospectBudgets(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rec := &eventtest.Recorder{}
	l := New(Limits{IntrospectPerClientBurst: 2, IntrospectPerClientRefill: time.Minute, IntrospectPerIPBurst: 3, IntrospectPerIPRefill: time.Minute}, rec, c.Now)
	ctx := context.Background()
	ip := netip.MustParseAddr("2001:db8::1")
	a := Use{IP: ip, ClientID: "a"}
	for range 2 {
		if _, blocked := l.IntrospectBlocked(a); blocked {
			t.Fatal("blocked within the budget")
		}
		l.IntrospectFailed(ctx, a)
	}
	if wait, blocked := l.IntrospectBlocked(a); !blocked || wait != time.Minute {
		t.Fatalf("client a after its budget: %v %v", wait, blocked)
	}
	// Another client on the same /64 has the address's last attempt.
	b := Use{IP: netip.MustParseAddr("2001:db8::2"), ClientID: "b"}
	if _, blocked := l.IntrospectBlocked(b); blocked {
		t.Fatal("client b blocked by a's budget")
	}
	l.IntrospectFailed(ctx, b)
	if _, blocked := l.IntrospectBlocked(b); !blocked {
		t.Fatal("the address's budget (by /64) is not shared")
	}
	ev := rec.Of(event.TokenProbeThrottled)
	if len(ev) != 2 || ev[0].ClientID != "a" || ev[0].Token != Introspection || ev[1].ClientID != "b" {
		t.Fatalf("events: %+v", ev)
	}
	c.Add(time.Minute)
	if _, blocked := l.IntrospectBlocked(a); blocked {
		t.Fatal("no refill")
	}
}

// pausingClock stops the reader of the time at its pause-th reading until
// released, telling the test it got there: a way to hold one failure in
// the middle of being counted while another runs.
type pausingClock struct {
	c       *clocktest.Clock
	pause   int
	arrived chan struct{}
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (p *pausingClock) Now() time.Time {
	p.mu.Lock()
	p.n++
	stop := p.n == p.pause
	p.mu.Unlock()
	if stop {
		close(p.arrived)
		<-p.release
	}
	return p.c.Now()
}

// TestRacingFailuresEmptyOnce: two failures counted at once with one
// attempt left take one token between them (the bucket is not overdrawn,
// so one refill period frees the address) and publish one event. The first
// is held at its second reading of the clock (after its check, when the
// check and the take were two steps) while the second runs.
func TestRacingFailuresEmptyOnce(t *testing.T) {
	clock := &pausingClock{c: clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), pause: 2,
		arrived: make(chan struct{}), release: make(chan struct{})}
	rec := &eventtest.Recorder{}
	l := New(Limits{BearerPerIPBurst: 1, BearerPerIPRefill: time.Minute}, rec, clock.Now)
	ctx := context.Background()
	u := Use{IP: netip.MustParseAddr("198.51.100.7")}
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.BearerFailed(ctx, u)
	}()
	<-clock.arrived
	l.BearerFailed(ctx, u)
	close(clock.release)
	<-done
	if ev := rec.Of(event.TokenProbeThrottled); len(ev) != 1 {
		t.Errorf("%d events for one emptying", len(ev))
	}
	if _, blocked := l.BearerBlocked(u); !blocked {
		t.Fatal("not blocked after the burst")
	}
	clock.c.Add(time.Minute)
	if wait, blocked := l.BearerBlocked(u); blocked {
		t.Fatalf("still blocked %v after one refill: the bucket was overdrawn", wait)
	}
}

// TestConcurrentFailures is for the race detector and the invariant under
// a crowd: however the failures interleave, a burst of n is spent by the
// first n, the bucket empties once and is never overdrawn.
func TestConcurrentFailures(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rec := &eventtest.Recorder{}
	const burst = 5
	l := New(Limits{BearerPerIPBurst: burst, BearerPerIPRefill: time.Minute}, rec, c.Now)
	u := Use{IP: netip.MustParseAddr("198.51.100.8")}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 * burst {
		wg.Go(func() {
			<-start
			l.BearerFailed(context.Background(), u)
		})
	}
	close(start)
	wg.Wait()
	if ev := rec.Of(event.TokenProbeThrottled); len(ev) != 1 {
		t.Errorf("%d events for one emptying", len(ev))
	}
	c.Add(time.Minute)
	if _, blocked := l.BearerBlocked(u); blocked {
		t.Fatal("still blocked after one refill: the bucket was overdrawn")
	}
}
