package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

// TestReadyFollowsWriteFailures: a write the server refuses for a storage
// reason (here disk_full, raised by a trigger in the test's own schema: a
// real full disk cannot be made in CI) makes Ping (readiness) fail naming
// the cause, and Ping passes again once writes commit, without waiting for
// traffic.
func TestReadyFollowsWriteFailures(t *testing.T) {
	ctx := context.Background()
	u := migratedURL(t)
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
	pgtest.Exec(t, u, `CREATE TABLE fault (on_ boolean NOT NULL)`)
	pgtest.Exec(t, u, `INSERT INTO fault VALUES (true)`)
	pgtest.Exec(t, u, `CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF (SELECT on_ FROM fault) THEN
				RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full';
			END IF;
			RETURN NEW;
		END $$`)
	for _, table := range []string{"users", "write_probe"} {
		pgtest.Exec(t, u, `CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON `+table+` FOR EACH ROW EXECUTE FUNCTION disk_full()`)
	}
	now := time.Now()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Username: "alice", CreatedAt: now, PasswordChangedAt: now}); err == nil {
		t.Fatal("the injected disk_full did not fail the write")
	}
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "No space left") {
		t.Fatalf("Ping after a write failed for a full disk: %v, want not ready naming the cause", err)
	}
	pgtest.Exec(t, u, `UPDATE fault SET on_ = false`)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping once writes commit again: %v", err)
	}
}

// TestCheckReadOnly: the start-up check refuses a server that takes no
// writes (a standby, or default_transaction_read_only), saying so.
func TestCheckReadOnly(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(migratedURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("default_transaction_read_only", "on") // sent as a setting at connect
	u.RawQuery = q.Encode()
	s, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(ctx); !errors.Is(err, postgres.ErrReadOnly) {
		t.Fatalf("Check on a read-only server: %v, want ErrReadOnly", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping on a read-only server: ready")
	}
}
