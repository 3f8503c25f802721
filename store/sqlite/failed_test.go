package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/storetest"
)

// TestFailedStoreCommitsNothing: once an fsync has failed, a write is
// refused before it begins, so nothing answered with an error exists after
// a restart. (The write whose fsync failed is the one unknown outcome.)
func TestFailedStoreCommitsNothing(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSession(ctx, aliceSession(t, "s1", now), store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	refresh := store.RefreshToken{Hash: storetest.NewHash(t), SessionID: "s1", ClientID: "app", Scope: "read", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateRefreshToken(ctx, refresh); err != nil {
		t.Fatal(err)
	}

	disk := errors.New("disk on fire")
	s.wal.mu.Lock()
	s.wal.fsyncFn = func() error { return disk }
	s.wal.mu.Unlock()
	// The write that meets the failure: committed, not acknowledged.
	if _, err := s.CreateSession(ctx, aliceSession(t, "s-unknown", now), store.CreateOptions{}); !errors.Is(err, disk) {
		t.Fatalf("write meeting the failed fsync: %v", err)
	}

	// Every later write is refused, and must leave nothing behind.
	for name, op := range map[string]func() error{
		"CreateUser (exec)": func() error {
			return s.CreateUser(ctx, store.User{ID: "u2", Username: "bob", CreatedAt: now})
		},
		"CreateSession (tx)": func() error {
			_, err := s.CreateSession(ctx, aliceSession(t, "s2", now), store.CreateOptions{})
			return err
		},
		"DenyAccessToken (tx)": func() error { return s.DenyAccessToken(ctx, "jti-9", "u1", now.Add(time.Hour), now, "revoked") },
		"RotateRefreshToken (batch)": func() error {
			_, err := s.RotateRefreshToken(ctx, refresh.Hash, storetest.Decide(oauth.Presentation{ClientID: "app", Successor: storetest.NewHash(t), Now: now, TTL: time.Hour}))
			return err
		},
	} {
		if err := op(); !errors.Is(err, disk) {
			t.Errorf("%s after a failed fsync: %v, want the failure", name, err)
		}
	}
	if err := s.Close(); err != nil && !errors.Is(err, disk) {
		t.Fatal(err)
	}

	// A restart sees none of the refused writes.
	s, err = OpenExisting(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByUsername(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a user refused with an error exists after restart: %v", err)
	}
	if _, err := s.SessionByID(ctx, "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a session refused with an error exists after restart: %v", err)
	}
	revs, err := s.Revocations(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range revs {
		if r.JTI == "jti-9" {
			t.Error("a denial refused with an error is on the feed after restart")
		}
	}
	rt, err := s.RefreshTokenByHash(ctx, refresh.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !rt.UsedAt.IsZero() {
		t.Error("a rotation refused with an error used the refresh token: its retry would look like reuse")
	}
}

// TestFailureDuringWriteRollsBack: a failure recorded while a transaction
// is open rolls it back instead of committing it.
func TestFailureDuringWriteRollsBack(t *testing.T) {
	ctx := context.Background()
	s, _ := openAlice(t)
	disk := errors.New("disk on fire")

	t.Run("tx", func(t *testing.T) {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "UPDATE users SET username = 'mallory' WHERE id = 'u1'"); err != nil {
				return err
			}
			s.wal.fail(disk) // another writer's fsync failed meanwhile
			return nil
		})
		if !errors.Is(err, disk) {
			t.Fatalf("tx committed after the store failed: %v", err)
		}
		if _, err := s.UserByUsername(ctx, "mallory"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the rolled-back write is visible: %v", err)
		}
	})
}

// TestFailureDuringRotationBatchRollsBack: the same for the rotation batch.
func TestFailureDuringRotationBatchRollsBack(t *testing.T) {
	ctx := context.Background()
	s, now := openAlice(t)
	if _, err := s.CreateSession(ctx, aliceSession(t, "s1", now), store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	refresh := store.RefreshToken{Hash: storetest.NewHash(t), SessionID: "s1", ClientID: "app", Scope: "read", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateRefreshToken(ctx, refresh); err != nil {
		t.Fatal(err)
	}
	disk := errors.New("disk on fire")
	decide := storetest.Decide(oauth.Presentation{ClientID: "app", Successor: storetest.NewHash(t), Now: now, TTL: time.Hour})
	_, err := s.RotateRefreshToken(ctx, refresh.Hash, func(st store.RefreshState) store.RefreshPlan {
		s.wal.fail(disk) // decide runs inside the batch's transaction
		return decide(st)
	})
	if !errors.Is(err, disk) {
		t.Fatalf("rotation committed after the store failed: %v", err)
	}
	rt, err := s.RefreshTokenByHash(ctx, refresh.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !rt.UsedAt.IsZero() {
		t.Fatal("the rolled-back rotation is visible")
	}
}

// TestFailureUnderConcurrentWrites: an fsync that fails while many writers
// (single statements, transactions, rotations) are in flight ends every
// one of them with an answer (none hangs on the commit gate), and every
// write after the failure is refused. The failing fsync is the first one
// the writers ask for, held until every writer has started: whatever group
// commit batches, the failure is met with the crowd in flight (those that
// committed wait on it; the others commit after it or are refused).
func TestFailureUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	s, now := openAlice(t)
	const n = 60
	disk := errors.New("disk on fire")
	var started sync.WaitGroup
	started.Add(n)
	var fsyncs atomic.Int64
	s.wal.mu.Lock()
	s.wal.fsyncFn = func() error {
		fsyncs.Add(1)
		started.Wait() // no writer can be acknowledged before this returns
		return disk
	}
	s.wal.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			started.Done()
			switch i % 3 {
			case 0:
				errs[i] = s.CreateUser(ctx, store.User{ID: fmt.Sprint("u-", i), Username: fmt.Sprint("user", i), CreatedAt: now})
			case 1:
				_, errs[i] = s.CreateSession(ctx, aliceSession(t, fmt.Sprint("s-", i), now), store.CreateOptions{})
			case 2:
				_, errs[i] = s.RotateRefreshToken(ctx, storetest.NewHash(t), storetest.Decide(oauth.Presentation{ClientID: "app", Successor: storetest.NewHash(t), Now: now, TTL: time.Hour}))
			}
		})
	}
	wg.Wait() // a deadlock on the commit gate hangs here
	if fsyncs.Load() != 1 {
		t.Errorf("%d fsyncs after a failed one, want none", fsyncs.Load()-1)
	}
	for i, err := range errs {
		if i%3 != 2 && !errors.Is(err, disk) { // a rotation of an unknown token may answer before writing
			t.Errorf("writer %d acknowledged or refused for another cause: %v", i, err)
		}
	}
	if err := s.CreateUser(ctx, store.User{ID: "late", Username: "late", CreatedAt: now}); !errors.Is(err, disk) {
		t.Fatalf("a write after the failure: %v", err)
	}
}
