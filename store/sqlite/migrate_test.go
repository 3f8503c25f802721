package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/store/storetest"
	"github.com/tessera-auth/tessera/token"
)

// TestMigrateRefreshChildLinks: a database rotated under schema 6 (successors
// naming their parent) keeps its grace-retry and reuse behaviour after
// migration 7 moves the link onto the parent.
func TestMigrateRefreshChildLinks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	st, _ := token.New(token.Session)
	if _, err := s.CreateSession(ctx, store.Session{ID: "s1", TokenHash: st.Hash(), UserID: "u1", CreatedAt: now, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IdleTimeout: time.Hour, AAL: 1}, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first, _ := token.New(token.Refresh)
	second, _ := token.New(token.Refresh)
	// Back to schema 6: a used token and its successor, linked by parent.
	for _, q := range []string{
		"DELETE FROM schema_migrations WHERE version = 7",
		"ALTER TABLE refresh_tokens DROP COLUMN child",
		"ALTER TABLE refresh_tokens DROP COLUMN superseded",
		"ALTER TABLE refresh_tokens ADD COLUMN parent BLOB",
		"CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent)",
	} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ins := "INSERT INTO refresh_tokens (token_hash, session_id, client_id, scope, created_at, expires_at, used_at, parent) VALUES (?, 's1', 'app', 'read', ?, ?, ?, ?)"
	f, sec := first.Hash(), second.Hash()
	if _, err := s.w.ExecContext(ctx, ins, f[:], sqlrow.Micros(now), sqlrow.Micros(now.Add(time.Hour)), sqlrow.Micros(now), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, ins, sec[:], sqlrow.Micros(now), sqlrow.Micros(now.Add(time.Hour)), nil, f[:]); err != nil {
		t.Fatal(err)
	}
	// A token rotated before schema 6 (no successor names it).
	st2, _ := token.New(token.Session)
	if _, err := s.CreateSession(ctx, store.Session{ID: "s2", TokenHash: st2.Hash(), UserID: "u1", CreatedAt: now, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IdleTimeout: time.Hour, AAL: 1}, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	orphan := storetest.NewHash(t)
	if _, err := s.w.ExecContext(ctx, strings.Replace(ins, "'s1'", "'s2'", 1), orphan[:], sqlrow.Micros(now), sqlrow.Micros(now.Add(time.Hour)), sqlrow.Micros(now), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	// With no successor on record, a retry cannot replace it: only reuse
	// is safe (the family dies, so check it last, on its own session).
	defer func() {
		res, err := s.RotateRefreshToken(ctx, orphan, storetest.Decide(oauth.Presentation{ClientID: "app", Successor: storetest.NewHash(t), Now: now.Add(3 * time.Second), TTL: time.Hour, Grace: 5 * time.Second}))
		if err != nil || res.Outcome != store.RefreshReused {
			t.Fatalf("a used token without a recorded successor: %v, %v; want reuse", res.Outcome, err)
		}
	}()
	third, _ := token.New(token.Refresh)
	res, err := s.RotateRefreshToken(ctx, f, storetest.Decide(oauth.Presentation{ClientID: "app", Successor: third.Hash(), Now: now.Add(time.Second), TTL: time.Hour, Grace: 5 * time.Second}))
	if err != nil || res.Outcome != store.RefreshGraceRetry {
		t.Fatalf("grace retry after migration: %+v, %v", res.Outcome, err)
	}
	// The migrated link let the retry replace the unused successor, which
	// is now a tombstone: presenting it is reuse.
	res, err = s.RotateRefreshToken(ctx, sec, storetest.Decide(oauth.Presentation{ClientID: "app", Successor: storetest.NewHash(t), Now: now.Add(2 * time.Second), TTL: time.Hour, Grace: 5 * time.Second}))
	if err != nil || res.Outcome != store.RefreshReused {
		t.Fatalf("the successor linked before the migration was not replaced: %v, %v", res.Outcome, err)
	}
}

// remigrated opens a new database, runs stmts on it (rewinding migrations
// by deleting their schema_migrations rows and undoing their changes, then
// writing rows as they were before them), and reopens it, which runs the
// rewound migrations again. The store is closed when the test ends.
func remigrated(t *testing.T, stmts ...string) *Store {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	if s, err = Open(ctx, path, Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
