package redisstate

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// BenchmarkFanOut measures one node's Notify until another node's Changed
// closes, through the test Redis: the Redis share of cross-node revocation
// propagation (the feed read that follows is the store's). Reports p50 and
// p99.
func BenchmarkFanOut(b *testing.B) {
	url := redistest.URL(b)
	prefix := redistest.Prefix(b, url)
	mk := func() *Client {
		c, err := Open(ctx, url, Options{Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}
	pub, sub := mk().Notifier(), mk().Notifier()
	first := sub.Changed()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); sub.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	<-first
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		ch := sub.Changed()
		t0 := time.Now()
		if err := pub.Notify(ctx); err != nil {
			b.Fatal(err)
		}
		<-ch
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkAllow measures a shared throttle's allow (a successful login's
// throttle cost: it takes nothing), against the test Redis.
func BenchmarkAllow(b *testing.B) {
	url := redistest.URL(b)
	c, err := Open(ctx, url, Options{Prefix: redistest.Prefix(b, url)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	l := c.Limiter("ip", 20, 6*time.Second, nil)
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Sprint("192.0.2.", i%256)
		if ok, _ := l.Allow(ctx, key); !ok {
			b.Fatal("refused")
		}
	}
}
