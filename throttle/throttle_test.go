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
		if ok, _ := l.Take(ctx, "k"); !ok {
			t.Fatalf("attempt %d refused within the burst", i)
		}
	}
	ok, wait := l.Take(ctx, "k")
	if ok || wait != time.Minute {
		t.Fatalf("4th attempt: ok=%v wait=%v, want refused for 1m", ok, wait)
	}
	if ok, _ := l.Take(ctx, "other"); !ok {
		t.Fatal("keys are not independent")
	}
	c.Add(30 * time.Second)
	if ok, wait := l.Take(ctx, "k"); ok || wait != 30*time.Second {
		t.Fatalf("half refilled: ok=%v wait=%v", ok, wait)
	}
	c.Add(30 * time.Second)
	if ok, _ := l.Take(ctx, "k"); !ok {
		t.Fatal("not refilled after the refill period: a lockout must end")
	}
}

func TestRefund(t *testing.T) {
	c := newClock()
	l := New(1, time.Hour, c.Now)
	for range 10 {
		if ok, _ := l.Take(ctx, "k"); !ok {
			t.Fatal("refunded attempts must not drain the bucket")
		}
		l.Refund(ctx, "k")
	}
}

func TestFloodDoesNotFreeADrainedKey(t *testing.T) {
	c := newClock()
	l := New(5, time.Hour, c.Now)
	l.maxKeys = 100
	for range 5 {
		l.Take(ctx, "victim")
	}
	for i := range 1000 { // an attacker churns fresh keys, one failure each
		l.Take(ctx, fmt.Sprint("churn", i))
	}
	if ok, _ := l.Take(ctx, "victim"); ok {
		t.Fatal("flooding the table reset a drained bucket")
	}
}

func TestBoundedKeys(t *testing.T) {
	c := newClock()
	l := New(2, time.Minute, c.Now)
	l.maxKeys = 100
	for i := range 1000 {
		l.Take(ctx, fmt.Sprint(i))
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
