package audit_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/tessera-auth/tessera/audit"
	"github.com/tessera-auth/tessera/event"
)

// BenchmarkWrite: audit records written per second through the writer
// (queue, batches, one AppendAudit per batch, durable) on each backend.
// Every op is one record; records/s is reported.
func BenchmarkWrite(b *testing.B) {
	for _, bk := range []struct {
		name string
		open func(testing.TB) db
	}{{"sqlite", sqliteDB}, {"postgres", postgresDB}} {
		b.Run(bk.name, func(b *testing.B) {
			d := bk.open(b)
			w := audit.NewWriter(d.st, testChainB(b), audit.Config{Node: "bench", Queue: 16384, CriticalWait: 1 << 62})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { w.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			ip := netip.MustParseAddr("192.0.2.1")
			b.ResetTimer()
			for i := range b.N {
				// AdminAction is critical: a full queue waits, nothing is dropped.
				w.Publish(ctx, event.Event{Kind: event.AdminAction, At: t0, Actor: event.ActorAdminAPI, Action: event.ActionSessionRevoke,
					UserID: "u", SessionID: fmt.Sprint(i), IP: ip, UserAgent: "bench"})
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if w.Dropped() != 0 || w.Written() != uint64(b.N) {
				b.Fatalf("written %d, dropped %d of %d", w.Written(), w.Dropped(), b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func testChainB(b *testing.B) *audit.Chain {
	c, err := audit.NewChain([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	return c
}
