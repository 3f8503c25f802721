package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

// liveness bounds a wait for something that takes milliseconds: a test
// failure, not a speed requirement, on a loaded machine. It is below the
// revocation poll the cluster tests configure (1m), so only a
// notification can meet it.
const liveness = 20 * time.Second

// pgConfig is testConfig on a fresh PostgreSQL schema, with the
// revocation poll as long as config allows.
func pgConfig(t *testing.T) config.Config {
	t.Helper()
	c := testConfig(t)
	c.Store = pgtest.URL(t)
	c.Policy.Tokens.Issuer = "https://auth.cluster.test"
	c.Policy.Session.RevocationPoll = config.Duration(time.Minute)
	return c
}

// node starts one node over c, running its background loops until the
// test ends.
func node(t *testing.T, c config.Config) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), c, app.Options{AdminToken: adminToken, Access: app.Migrate})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	return a
}

func login(t *testing.T, a *app.App, name string) (string, session.Session) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := store.User{ID: "u-" + name, Username: name, PasswordHash: "x", CreatedAt: now, PasswordChangedAt: now}
	if err := a.Store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok, s, err := a.Sessions.Create(ctx, session.NewSession{UserID: u.ID, Username: name})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Reveal(), s
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(liveness):
		t.Fatalf("%s: nothing within %v although the revocation committed", what, liveness)
	}
}

// TestRevocationFanOutPostgres: two nodes (two pools) on one PostgreSQL
// schema, each polling the feed only once a minute. A session revoked on
// A leaves B's cache, and B's feed long poll returns it, as soon as
// PostgreSQL delivers the NOTIFY; then B's listener connection is killed,
// and after it reconnects the next revocation reaches B the same way.
func TestRevocationFanOutPostgres(t *testing.T) {
	ctx := context.Background()
	c := pgConfig(t)
	a, b := node(t, c), node(t, c)
	if a.Listener == nil || b.Listener == nil {
		t.Fatal("a PostgreSQL store gave no revocation listener")
	}

	tok, s := login(t, a, "alice")
	if _, err := b.Sessions.Validate(ctx, tok, session.Use{}); err != nil {
		t.Fatalf("B does not accept A's session: %v", err)
	}
	cursor, err := b.Store.LastRevocationSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// B's long poll, as GET /v1/revocations runs it (woken by B's follower).
	feed := revocation.NewFeed(b.Store, b.Sessions.Follower(), revocation.FeedConfig{AccessTTL: time.Minute, Poll: time.Minute})
	polled := make(chan revocation.Page, 1)
	go func() {
		p, err := feed.Read(ctx, cursor, time.Minute)
		if err != nil {
			t.Error(err)
		}
		polled <- p
	}()
	evicted := b.Sessions.Follower().Changed()
	if _, err := a.Sessions.Revoke(ctx, s.ID, session.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, evicted, "B's follower")
	if _, err := b.Sessions.Validate(ctx, tok, session.Use{}); err == nil {
		t.Fatal("B still accepts the session A revoked")
	}
	select {
	case p := <-polled:
		if len(p.Entries) != 1 || p.Entries[0].SessionID != s.ID {
			t.Fatalf("B's long poll returned %+v", p)
		}
	case <-time.After(liveness):
		t.Fatal("B's long poll did not return the revocation")
	}

	// Kill both listening backends; they reconnect by themselves.
	if n := killListeners(t, c.Store); n != 2 {
		t.Fatalf("terminated %d listening backends, want 2 (A's and B's)", n)
	}
	tok2, s2 := login(t, a, "bob")
	if _, err := b.Sessions.Validate(ctx, tok2, session.Use{}); err != nil {
		t.Fatal(err)
	}
	evicted = b.Sessions.Follower().Changed()
	if _, err := a.Sessions.Revoke(ctx, s2.ID, session.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, evicted, "B's follower after its listener was killed")
	if _, err := b.Sessions.Validate(ctx, tok2, session.Use{}); err == nil {
		t.Fatal("B still accepts the session A revoked after the reconnection")
	}
}

// killListeners terminates the backends listening on the feed channel of
// u's schema, as a failover or an administrator would, and says how many.
func killListeners(t *testing.T, u string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	// MATERIALIZED: the filter runs first, so no other backend is hit.
	err = conn.QueryRow(ctx, `WITH l AS MATERIALIZED (SELECT pid FROM pg_stat_activity
			WHERE query LIKE 'LISTEN %' || 'tessera_feed_' || current_schema() || '%' AND pid <> pg_backend_pid())
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM l`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
