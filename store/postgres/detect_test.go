package postgres_test

import (
	"context"
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
