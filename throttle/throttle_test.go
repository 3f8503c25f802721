package throttle

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/internal/clocktest"
)

func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

func TestBurstThenRefill(t *testing.T) {
	c := newClock()
	l := New(3, time.Minute, c.Now)
	for i := range 3 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("attempt %d refused within the burst", i)
		}
		l.Fail("k")
	}
	ok, wait := l.Allow("k")
	if ok || wait != time.Minute {
		t.Fatalf("4th attempt: ok=%v wait=%v, want refused for 1m", ok, wait)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("keys are not independent")
	}
	c.Add(30 * time.Second)
	if ok, wait := l.Allow("k"); ok || wait != 30*time.Second {
		t.Fatalf("half refilled: ok=%v wait=%v", ok, wait)
	}
	c.Add(30 * time.Second)
	if ok, _ := l.Allow("k"); !ok {
		t.Fatal("not refilled after the refill period: a lockout must end")
	}
}

// TestOnlyFailuresDrain: attempts in flight take nothing, so any number
// may be admitted at once; each failure then counts, down into debt.
func TestOnlyFailuresDrain(t *testing.T) {
	c := newClock()
	l := New(2, time.Minute, c.Now)
	for i := range 10 { // ten attempts admitted together, none settled yet
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("attempt %d in flight refused: attempts not known to fail must not drain", i)
		}
	}
	if l.Len() != 0 {
		t.Fatal("admitting an attempt tracked a key: only failures carry information")
	}
	for range 4 { // four of them fail: two more than the burst
		l.Fail("k")
	}
	ok, wait := l.Allow("k")
	if ok || wait != 3*time.Minute {
		t.Fatalf("after 4 failures on a burst of 2: ok=%v wait=%v, want refused for 3m (the debt counts)", ok, wait)
	}
}

func TestFloodDoesNotFreeADrainedKey(t *testing.T) {
	c := newClock()
	l := New(5, time.Hour, c.Now)
	l.maxKeys = 100
	for range 5 {
		l.Fail("victim")
	}
	for i := range 1000 { // an attacker churns fresh keys, one failure each
		l.Fail(fmt.Sprint("churn", i))
	}
	if ok, _ := l.Allow("victim"); ok {
		t.Fatal("flooding the table reset a drained bucket")
	}
}

func TestBoundedKeys(t *testing.T) {
	c := newClock()
	l := New(2, time.Minute, c.Now)
	l.maxKeys = 100
	for i := range 1000 {
		l.Fail(fmt.Sprint(i))
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
