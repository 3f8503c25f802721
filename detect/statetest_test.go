package detect_test

import (
	"testing"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/detect/statetest"
)

// TestMemoryConformance: Memory passes the State conformance suite (one
// process: both handles are the same Memory).
func TestMemoryConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) (a, b detect.State) {
		m := detect.NewMemory(0, func() time.Time { return statetest.Base })
		return m, m
	})
}

// BenchmarkMemoryState measures Memory's operations as the other State
// backends' benchmarks do (statetest.Bench).
func BenchmarkMemoryState(b *testing.B) {
	statetest.Bench(b, detect.NewMemory(0, nil))
}
