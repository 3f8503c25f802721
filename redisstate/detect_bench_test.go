package redisstate

import (
	"testing"

	"github.com/tessera-auth/tessera/detect/statetest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// BenchmarkDetect measures the detection state in the test Redis.
func BenchmarkDetect(b *testing.B) {
	url := redistest.URL(b)
	c, err := Open(ctx, url, Options{Prefix: redistest.Prefix(b, url)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	statetest.Bench(b, c.Detect(nil))
}
