package detect_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/clocktest"
)

// BenchmarkPublishRepeat is the hot path: an authenticated request whose
// session was last used from the same network with the same user agent.
func BenchmarkPublishRepeat(b *testing.B) {
	en, err := detect.New(detect.Config{Policy: detect.DefaultPolicy(), Now: clocktest.New(t0).Now})
	if err != nil {
		b.Fatal(err)
	}
	es := make([]event.Event, 1000)
	for i := range es {
		es[i] = (used("u", fmt.Sprint("s", i), "198.51.100.7", chromeWin))
		es[i].At = t0
		en.Publish(context.Background(), es[i])
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			en.Publish(ctx, es[i%len(es)])
			i++
		}
	})
}
