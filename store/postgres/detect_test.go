package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/detect/statetest"
	"github.com/tessera-auth/tessera/detect/storestate"
	"github.com/tessera-auth/tessera/store/postgres"
)

// TestDetectStateAcrossHandles: the detection state conformance suite
// over two pools on one schema, as two nodes hold it.
func TestDetectStateAcrossHandles(t *testing.T) {
	u := migratedURL(t)
	statetest.Run(t, func(t *testing.T) (a, b detect.State) {
		var h [2]detect.State
		for i := range h {
			s, err := postgres.Open(context.Background(), withParam(t, u, "pool_max_conns", "8"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			h[i] = storestate.New(s)
		}
		return h[0], h[1]
	})
}

// TestDetectStateTwoProcesses: two processes, each with its own pool on
// one schema, share the detection state.
func TestDetectStateTwoProcesses(t *testing.T) {
	u := os.Getenv("TESSERA_TEST_DETECT_POSTGRES")
	if !statetest.IsChild() {
		u = migratedURL(t)
	}
	statetest.AcrossProcesses(t, []string{"TESSERA_TEST_DETECT_POSTGRES=" + u}, func(t *testing.T) detect.State {
		s, err := postgres.Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return storestate.New(s)
	})
}
