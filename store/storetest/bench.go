package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// Family stores a user and a session named after name, and the session's
// first refresh token (client "app", scope "read", an hour to live from
// now); it returns that token's hash.
func Family(t testing.TB, s store.Store, name string, now time.Time) token.Hash {
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
	h := NewHash(t)
	if err := s.CreateRefreshToken(ctx, store.RefreshToken{Hash: h, SessionID: "s-" + name, ClientID: "app", Scope: "read",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return h
}

// BenchRotate measures durable refresh rotation in a backend alone, the
// same way for every backend: "serial" is one presentation at a time (one
// commit each), "concurrent-32" is 32 families rotating at once, as behind a
// busy token endpoint. newStore returns an empty, migrated store that the
// benchmark closes.
func BenchRotate(b *testing.B, newStore func(testing.TB) store.Store) {
	for _, conc := range []int{1, 32} {
		name := "serial"
		if conc > 1 {
			name = fmt.Sprintf("concurrent-%d", conc)
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s := newStore(b)
			defer s.Close()
			now := time.Now().UTC().Truncate(time.Microsecond)
			heads := make([]token.Hash, conc)
			for i := range heads {
				heads[i] = Family(b, s, fmt.Sprintf("f%d", i), now)
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
						res, err := s.RotateRefreshToken(ctx, h, Decide(oauth.Presentation{ClientID: "app", Successor: next.Hash(), Now: now, TTL: time.Hour}))
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
