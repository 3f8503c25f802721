package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/storetest"
	"github.com/tessera-auth/tessera/token"
)

// BenchmarkRotate measures durable refresh rotation in the store alone:
// "serial" is one presentation at a time (one commit and one fsync each),
// "concurrent-32" is 32 families rotating at once, as behind a busy token
// endpoint, where batching and group commit share commits and fsyncs.
func BenchmarkRotate(b *testing.B) {
	for _, conc := range []int{1, 32} {
		name := "serial"
		if conc > 1 {
			name = fmt.Sprintf("concurrent-%d", conc)
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Now().UTC().Truncate(time.Microsecond)
			if err := s.CreateUser(ctx, store.User{ID: "u", Username: "u", CreatedAt: now}); err != nil {
				b.Fatal(err)
			}
			heads := make([]token.Hash, conc)
			for i := range heads {
				st, _ := token.New(token.Session)
				sid := fmt.Sprintf("s%d", i)
				if _, err := s.CreateSession(ctx, store.Session{ID: sid, TokenHash: st.Hash(), UserID: "u", CreatedAt: now, AuthTime: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IdleTimeout: time.Hour, AAL: 1}, store.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
				rt, _ := token.New(token.Refresh)
				heads[i] = rt.Hash()
				if err := s.CreateRefreshToken(ctx, store.RefreshToken{Hash: heads[i], SessionID: sid, Scope: "read", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
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
						res, err := s.RotateRefreshToken(ctx, h, storetest.Decide(oauth.Presentation{Successor: next.Hash(), Now: now, TTL: time.Hour}))
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
