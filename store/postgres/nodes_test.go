package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/storetest"
	"github.com/tessera-auth/tessera/token"
)

// family stores a user, a session and its first refresh token in s.
func family(t testing.TB, s store.Store, name string, now time.Time) token.Hash {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateUser(ctx, store.User{ID: "u-" + name, Username: name, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	st, _ := token.New(token.Session)
	if _, err := s.CreateSession(ctx, store.Session{ID: "s-" + name, TokenHash: st.Hash(), UserID: "u-" + name, CreatedAt: now, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IdleTimeout: time.Hour, AAL: 1}, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h := storetest.NewHash(t)
	if err := s.CreateRefreshToken(ctx, store.RefreshToken{Hash: h, SessionID: "s-" + name, ClientID: "app", Scope: "read",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return h
}

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
	h := family(t, nodes[0], "racer", now)
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

// BenchmarkRotate measures durable refresh rotation in the store alone, as
// store/sqlite's BenchmarkRotate does: "serial" is one presentation at a
// time, "concurrent-32" is 32 families rotating at once.
func BenchmarkRotate(b *testing.B) {
	for _, conc := range []int{1, 32} {
		name := "serial"
		if conc > 1 {
			name = fmt.Sprintf("concurrent-%d", conc)
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := migrated(b)
			defer s.Close()
			now := time.Now().UTC().Truncate(time.Microsecond)
			heads := make([]token.Hash, conc)
			for i := range heads {
				heads[i] = family(b, s, fmt.Sprintf("f%d", i), now)
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / conc
			for i := range conc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h := heads[i]
					for range per {
						next, _ := token.New(token.Refresh)
						res, err := s.RotateRefreshToken(ctx, h, storetest.Decide(oauth.Presentation{ClientID: "app", Successor: next.Hash(), Now: now, TTL: time.Hour}))
						if err != nil || res.Outcome != store.RefreshRotated {
							b.Errorf("rotate: %v %v", res.Outcome, err)
							return
						}
						h = next.Hash()
					}
				}()
			}
			wg.Wait()
		})
	}
}
