package probe

import (
	"context"
	"net/netip"
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
