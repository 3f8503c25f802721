package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/storetest"
)

// openAlice opens a new store in t's temporary directory, closed when t
// ends, holding the user u1 (alice); now is when alice was created.
func openAlice(t *testing.T) (s *Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return s, now
}

// aliceSession is a session id of u1, live for an hour from now.
func aliceSession(t *testing.T, id string, now time.Time) store.Session {
	return store.Session{ID: id, TokenHash: storetest.NewHash(t), UserID: "u1", CreatedAt: now, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IdleTimeout: time.Hour, AAL: 1}
}
