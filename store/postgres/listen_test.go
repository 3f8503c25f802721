package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

// liveness bounds how long a test waits for something that happens in
// milliseconds: a failure, not a speed limit, on a loaded machine.
const liveness = 20 * time.Second

func openNode(t *testing.T, u string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), withParam(t, u, "pool_max_conns", "4"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func listen(t *testing.T, s *postgres.Store) *postgres.Listener {
	t.Helper()
	fl, err := s.ListenFeed(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fl.Close() })
	return fl.(*postgres.Listener)
}

func woken(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(liveness):
		t.Fatalf("no wake-up %s within %v", what, liveness)
	}
}

func seedSession(t *testing.T, s store.Store, id string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := store.User{ID: "u-" + id, Username: id, PasswordHash: "x", CreatedAt: now, PasswordChangedAt: now}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var h [32]byte
	copy(h[:], id)
	if _, err := s.CreateSession(ctx, store.Session{ID: id, TokenHash: h, UserID: u.ID, CreatedAt: now, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IdleTimeout: time.Hour}, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestNotifyAtCommit: a revocation committed through one node's pool wakes
// the listener of another node's store on the same schema, for each kind
// of feed write. Deleting the pg_notify in appendFeed fails it.
func TestNotifyAtCommit(t *testing.T) {
	ctx := context.Background()
	u := migratedURL(t)
	a, b := openNode(t, u), openNode(t, u)
	l := listen(t, b)
	seedSession(t, a, "s-notify")

	ch := l.Changed()
	if _, err := a.RevokeSession(ctx, "s-notify", time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	woken(t, ch, "after a session revocation")

	ch = l.Changed()
	if err := a.DenyAccessToken(ctx, "jti-1", "u-s-notify", time.Now().Add(time.Hour), time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	woken(t, ch, "after an access-token denial")
}

// TestNotifyChannelPerSchema: stores in two schemas of one database do
// not share a channel, so one's revocations never wake the other.
func TestNotifyChannelPerSchema(t *testing.T) {
	a, b := openNode(t, migratedURL(t)), openNode(t, migratedURL(t))
	if a.ChannelForTest() == b.ChannelForTest() {
		t.Fatalf("two schemas share the channel %q", a.ChannelForTest())
	}
}

// TestListenerReconnects: the listener's backend is terminated by the
// server; the listener reconnects by itself, wakes its waiters when it is
// back (they may have missed notifications meanwhile), and hears the next
// revocation on its new connection.
func TestListenerReconnects(t *testing.T) {
	ctx := context.Background()
	u := migratedURL(t)
	a, b := openNode(t, u), openNode(t, u)
	l := listen(t, b)
	seedSession(t, a, "s-reconnect")

	pid := l.PIDForTest()
	if pid == 0 {
		t.Fatal("listener reports no connection after ListenFeed")
	}
	ch := l.Changed()
	pgtest.Exec(t, u, "SELECT pg_terminate_backend($1)", int32(pid))
	woken(t, ch, "after the listener's connection was terminated")
	deadline := time.Now().Add(liveness)
	for l.PIDForTest() == 0 || l.PIDForTest() == pid {
		if time.Now().After(deadline) {
			t.Fatalf("listener did not reconnect within %v (pid %d)", liveness, l.PIDForTest())
		}
		time.Sleep(10 * time.Millisecond)
	}

	ch = l.Changed()
	if _, err := a.RevokeSession(ctx, "s-reconnect", time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	woken(t, ch, "after a revocation on the new connection")
}

// TestListenerIdleCheck: a listener whose connection stays silent checks
// it (a ping after each idle period) and keeps it: the same backend hears
// the next revocation, with no reconnection in between.
func TestListenerIdleCheck(t *testing.T) {
	postgres.SetListenIdleForTest(t, 20*time.Millisecond)
	ctx := context.Background()
	u := migratedURL(t)
	a, b := openNode(t, u), openNode(t, u)
	l := listen(t, b)
	seedSession(t, a, "s-idle")
	pid := l.PIDForTest()
	time.Sleep(200 * time.Millisecond) // several idle periods: not a timing assertion
	ch := l.Changed()
	if _, err := a.RevokeSession(ctx, "s-idle", time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	woken(t, ch, "after idle checks")
	if got := l.PIDForTest(); got != pid {
		t.Fatalf("the listener reconnected (pid %d, was %d): idle checks broke its connection", got, pid)
	}
}
