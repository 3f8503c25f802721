package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/storetest"
)

// TestRefreshRaceAcrossNodes: three stores (three nodes' pools) on one
// database present one refresh token 48 times at once. The row locks are
// the database's, so the outcome is the one-node outcome: one rotation,
// one reuse that ends the family, and ErrNotFound for the rest.
func TestRefreshRaceAcrossNodes(t *testing.T) {
	ctx := context.Background()
	u := migratedURL(t)
	var nodes []store.Store
	for range 3 {
		// Small pools: three of them share the test server's connections
		// with whatever else runs.
		s, err := postgres.Open(ctx, withParam(t, u, "pool_max_conns", "8"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, s)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := storetest.Family(t, nodes[0], "racer", now)
	const notFound = store.RefreshOutcome(-1)
	const n = 48
	var mu sync.Mutex
	count := map[store.RefreshOutcome]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := nodes[i%len(nodes)].RotateRefreshToken(ctx, h, storetest.Decide(oauth.Presentation{
				ClientID: "app", Successor: storetest.NewHash(t), Now: now.Add(time.Second), TTL: time.Hour}))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, store.ErrNotFound):
				count[notFound]++
			case err != nil:
				t.Errorf("node %d: %v", i%len(nodes), err)
			default:
				count[res.Outcome]++
			}
		}()
	}
	wg.Wait()
	want := map[store.RefreshOutcome]int{store.RefreshRotated: 1, store.RefreshReused: 1, notFound: n - 2}
	if !reflect.DeepEqual(count, want) {
		t.Fatalf("outcomes %v, want %v (-1 is ErrNotFound)", count, want)
	}
	for i, s := range nodes {
		if sess, err := s.SessionByID(ctx, "s-racer"); err != nil || sess.RevokeReason != oauth.RevokeReasonReuse {
			t.Fatalf("node %d sees the session as %+v, %v", i, sess, err)
		}
	}
}

// BenchmarkRotate measures durable refresh rotation in the store alone
// (storetest.BenchRotate, as store/sqlite's BenchmarkRotate does).
func BenchmarkRotate(b *testing.B) {
	storetest.BenchRotate(b, func(t testing.TB) store.Store { return migrated(t) })
}
