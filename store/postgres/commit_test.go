package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

// TestCommitErrorIsNoAck (issue 10, R1, PostgreSQL): a COMMIT the server
// refuses (here a deferred constraint trigger that raises at commit) is an
// error to the caller, and nothing of the write is visible.
func TestCommitErrorIsNoAck(t *testing.T) {
	ctx := context.Background()
	u := migratedURL(t)
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pgtest.Exec(t, u, `CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'io_error'; END $$`)
	pgtest.Exec(t, u, `CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON users
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()`)
	now := time.Now()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", CreatedAt: now, PasswordChangedAt: now}); err == nil {
		t.Fatal("a refused COMMIT was acknowledged")
	}
	if _, err := s.UserByUsername(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused write is visible: %v", err)
	}
}

// TestCommitOutcomeUnknown (issue 10, R1, PostgreSQL): when the connection
// dies while COMMIT runs, the caller gets an error saying the outcome is
// unknown (answered as unavailable, never as done or refused), not a retry
// that could apply the write twice.
func TestCommitOutcomeUnknown(t *testing.T) {
	ctx := context.Background()
	u := migratedURL(t)
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// COMMIT hangs in a deferred trigger until the test kills its backend.
	pgtest.Exec(t, u, `CREATE FUNCTION stall_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$`)
	pgtest.Exec(t, u, `CREATE CONSTRAINT TRIGGER stall_at_commit AFTER INSERT ON users
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stall_at_commit()`)
	done := make(chan error, 1)
	now := time.Now()
	go func() {
		done <- s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", CreatedAt: now, PasswordChangedAt: now})
	}()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Wait (by state, not by time) for the backend running the stalled
	// commit, then end it, as a crash or a network cut would.
	for {
		var pids []int
		rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE query = 'commit' AND wait_event = 'PgSleep'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var pid int
			rows.Scan(&pid)
			pids = append(pids, pid)
		}
		rows.Close()
		if len(pids) == 1 {
			if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend($1)", pids[0]); err != nil {
				t.Fatal(err)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("CreateUser returned before its COMMIT was cut: %v", err)
		case <-time.After(10 * time.Millisecond): // poll again, gently
		}
	}
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "commit outcome unknown") {
		t.Fatalf("a COMMIT cut off mid-way: %v, want the outcome reported unknown", err)
	}
}
