package throttle

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/internal/clocktest"
)

var ctx = context.Background()

func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

func TestBurstThenRefill(t *testing.T) {
	c := newClock()
	l := New(3, time.Minute, c.Now)
	for i := range 3 {
		if ok, _ := l.Allow(ctx, "k"); !ok {
			t.Fatalf("attempt %d refused within the burst", i)
		}
		l.Fail(ctx, "k")
	}
	ok, wait := l.Allow(ctx, "k")
	if ok || wait != time.Minute {
		t.Fatalf("4th attempt: ok=%v wait=%v, want refused for 1m", ok, wait)
	}
	if ok, _ := l.Allow(ctx, "other"); !ok {
		t.Fatal("keys are not independent")
	}
	c.Add(30 * time.Second)
	if ok, wait := l.Allow(ctx, "k"); ok || wait != 30*time.Second {
		t.Fatalf("half refilled: ok=%v wait=%v", ok, wait)
	}
	c.Add(30 * time.Second)
	if ok, _ := l.Allow(ctx, "k"); !ok {
		t.Fatal("not refilled after the refill period: a lockout must end")
	}
}

// TestOnlyFailuresDrain: attempts in flight take nothing, so any number
// may be admitted at once; each failure then counts, down into debt.
func TestOnlyFailuresDrain(t *testing.T) {
	c := newClock()
	l := New(2, time.Minute, c.Now)
	for i := range 10 { // ten attempts admitted together, none settled yet
		if ok, _ := l.Allow(ctx, "k"); !ok {
			t.Fatalf("attempt %d in flight refused: attempts not known to fail must not drain", i)
		}
	}
	if l.Len() != 0 {
		t.Fatal("admitting an attempt tracked a key: only failures carry information")
	}
	for range 4 { // four of them fail: two more than the burst
		l.Fail(ctx, "k")
	}
	ok, wait := l.Allow(ctx, "k")
	if ok || wait != 3*time.Minute {
		t.Fatalf("after 4 failures on a burst of 2: ok=%v wait=%v, want refused for 3m (the debt counts)", ok, wait)
	}
}

func TestFloodDoesNotFreeADrainedKey(t *testing.T) {
	c := newClock()
	l := New(5, time.Hour, c.Now)
	l.maxKeys = 100
	for range 5 {
		l.Fail(ctx, "victim")
	}
	for i := range 1000 { // an attacker churns fresh keys, one failure each
		l.Fail(ctx, fmt.Sprint("churn", i))
	}
	if ok, _ := l.Allow(ctx, "victim"); ok {
		t.Fatal("flooding the table reset a drained bucket")
	}
}

func TestBoundedKeys(t *testing.T) {
	c := newClock()
	l := New(2, time.Minute, c.Now)
	l.maxKeys = 100
	for i := range 1000 {
		l.Fail(ctx, fmt.Sprint(i))
	}
	if n := l.Len(); n > 100 {
		t.Fatalf("%d keys tracked, bound is 100", n)
	}
}

func TestIPKey(t *testing.T) {
	a := IPKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1"))
	b := IPKey(netip.MustParseAddr("2001:db8:1:2:bbbb::9"))
	c := IPKey(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c {
		t.Fatalf("IPv6 keys: %s %s %s; want same /64 grouped, others apart", a, b, c)
	}
	if k := IPKey(netip.MustParseAddr("192.0.2.1")); k != "192.0.2.1" {
		t.Fatalf("IPv4 key %s", k)
	}
}

// TestBlocked: Blocked takes nothing, answers false for an untouched
// limiter and key, and true with the wait once failures emptied the bucket.
func TestBlocked(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := New(2, 10*time.Second, c.Now)
	if blocked, _ := l.Blocked("k"); blocked {
		t.Fatal("untouched limiter blocks")
	}
	l.Fail(ctx, "k")
	for range 5 {
		if blocked, _ := l.Blocked("k"); blocked {
			t.Fatal("one failure of two blocks (or Blocked takes)")
		}
	}
	l.Fail(ctx, "k")
	blocked, wait := l.Blocked("k")
	if !blocked || wait != 10*time.Second {
		t.Fatalf("after the burst: %v %v", blocked, wait)
	}
	if blocked, _ := l.Blocked("other"); blocked {
		t.Fatal("another key blocks")
	}
	c.Add(10 * time.Second)
	if blocked, _ := l.Blocked("k"); blocked {
		t.Fatal("still blocked after a refill period")
	}
}

// BenchmarkBlocked is what a request pays for the probing check (probe
// package): with no failure recorded (one atomic load), and with a table
// of drained buckets (a read lock and a map lookup).
func BenchmarkBlocked(b *testing.B) {
	for _, n := range []int{0, 10000} {
		b.Run(fmt.Sprintf("buckets=%d", n), func(b *testing.B) {
			l := New(50, time.Second, time.Now)
			for i := range n {
				l.Fail(ctx, fmt.Sprintf("198.51.%d.%d", i/256, i%256))
			}
			key := IPKey(netip.MustParseAddr("203.0.113.9"))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Blocked(key)
				}
			})
		})
	}
}

// TestSpend: Spend takes a token only while one is left, tells which
// spend emptied the bucket, and never puts it in debt.
func TestSpend(t *testing.T) {
	c := newClock()
	l := New(2, time.Minute, c.Now)
	type res struct {
		spent, empty bool
		wait         time.Duration
	}
	for i, want := range []res{{true, false, 0}, {true, true, time.Minute}, {false, true, time.Minute}, {false, true, time.Minute}} {
		if spent, empty, wait := l.Spend(ctx, "k"); (res{spent, empty, wait}) != want {
			t.Fatalf("spend %d = %v, %v, %v; want %+v", i, spent, empty, wait, want)
		}
	}
	c.Add(time.Minute) // one token back: refused spends took nothing
	if spent, empty, _ := l.Spend(ctx, "k"); !spent || !empty {
		t.Fatalf("after a refill: spent=%v empty=%v", spent, empty)
	}
	if blocked, _ := l.Blocked("other"); blocked {
		t.Fatal("another key blocked")
	}
}
