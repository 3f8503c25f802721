package app_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/cluster"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/revocation/revocationtest"
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

// newNode builds one node over c on now's clock (nil: time.Now), without
// its background loops, and closes it when the test ends.
func newNode(t *testing.T, c config.Config, now func() time.Time) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), c, app.Options{AdminToken: adminToken, Access: app.Migrate, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
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
// PostgreSQL delivers the NOTIFY; an access token denied on A is denied
// on B the same way; then the listeners' connections are killed, and
// after they reconnect the next revocation reaches B the same way.
func TestRevocationFanOutPostgres(t *testing.T) {
	ctx := context.Background()
	c := pgConfig(t)
	// The listener's own connection goes to store_direct (here the same
	// server, told apart by its application name).
	c.StoreDirect = c.Store + "&application_name=tessera_direct"
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
	// B's long poll, as GET /v1/revocations runs it (woken by B's
	// follower), waiting once it has read the feed and found nothing.
	reads := revocationtest.NewReadSignal(b.Store)
	feed := revocation.NewFeed(reads, b.Sessions.Follower(), revocation.FeedConfig{AccessTTL: time.Minute, Poll: time.Minute})
	wctx, cancel := context.WithTimeout(ctx, liveness)
	defer cancel()
	polled := revocationtest.LongPoll(wctx, feed, cursor, time.Minute)
	reads.Wait(t, wctx)
	evicted := b.Sessions.Follower().Changed()
	if _, err := a.Sessions.Revoke(ctx, s.ID, session.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, evicted, "B's follower")
	if _, err := b.Sessions.Validate(ctx, tok, session.Use{}); err == nil {
		t.Fatal("B still accepts the session A revoked")
	}
	if p := <-polled; p.Err != nil || len(p.Page.Entries) != 1 || p.Page.Entries[0].SessionID != s.ID {
		t.Fatalf("B's long poll returned %+v, %v; want the revocation", p.Page, p.Err)
	}

	// An access token denied on A is denied on B.
	evicted = b.Sessions.Follower().Changed()
	if err := a.Sessions.Follower().Deny(ctx, "jti-fanout", "u-alice", time.Now().Add(time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, evicted, "B's follower after a denial")
	if denied, err := b.Sessions.Follower().Denied(ctx, "jti-fanout"); err != nil || !denied {
		t.Fatalf("B: Denied = %v, %v after A denied the token", denied, err)
	}

	// Kill both listening backends; they reconnect by themselves.
	if n := killListeners(t, c.Store); n != 2 {
		t.Fatalf("terminated %d listening backends on store_direct, want 2 (A's and B's)", n)
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
// u's schema through store_direct, as a failover or an administrator
// would, and says how many.
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
			WHERE query LIKE 'LISTEN %' || 'tessera_feed_' || current_schema() || '%'
				AND application_name = 'tessera_direct' AND pid <> pg_backend_pid())
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM l`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestClusterIssuer: on PostgreSQL the issuer must be named; the first
// node records it, a node configured without one adopts it, and a node
// configured with another refuses to start, naming both.
func TestClusterIssuer(t *testing.T) {
	ctx := context.Background()
	c := pgConfig(t)
	bare := c
	bare.Policy.Tokens.Issuer = ""
	if _, err := app.New(ctx, bare, app.Options{AdminToken: adminToken, Access: app.Migrate}); !errors.Is(err, cluster.ErrNoIssuer) {
		t.Fatalf("first node without an issuer on PostgreSQL: %v, want ErrNoIssuer", err)
	}
	first := newNode(t, c, nil)
	if got := first.Config.Issuer(); got != "https://auth.cluster.test" {
		t.Fatalf("first node's issuer %q", got)
	}
	if got := newNode(t, bare, nil).Config.Issuer(); got != "https://auth.cluster.test" {
		t.Fatalf("a node without an issuer uses %q, want the cluster's", got)
	}
	other := c
	other.Policy.Tokens.Issuer = "http://127.0.0.1:8080"
	_, err := app.New(ctx, other, app.Options{AdminToken: adminToken, Access: app.Migrate})
	if !errors.Is(err, cluster.ErrMismatch) || !strings.Contains(err.Error(), "http://127.0.0.1:8080") || !strings.Contains(err.Error(), "https://auth.cluster.test") {
		t.Fatalf("node with another issuer: %v, want ErrMismatch naming both", err)
	}
}

// TestCleanupOncePerCluster: of two nodes on one store, the one holding
// the "gc" lease cleans up; the other skips until the lease is released.
func TestCleanupOncePerCluster(t *testing.T) {
	ctx := context.Background()
	c := pgConfig(t)
	a, b := newNode(t, c, nil), newNode(t, c, nil)
	if ran, _, err := a.Collect(ctx); err != nil || !ran {
		t.Fatalf("first node: ran %v, %v", ran, err)
	}
	if ran, _, err := b.Collect(ctx); err != nil || ran {
		t.Fatalf("second node: ran %v, %v; the cleanup ran twice in one term", ran, err)
	}
	if ran, _, err := a.Collect(ctx); err != nil || !ran {
		t.Fatalf("holder renewing: ran %v, %v", ran, err)
	}
}

// TestKeyRotationOncePerCluster: two nodes on one PostgreSQL schema tick
// their keysets at once, twice per schedule, over three schedules: one
// rotation per schedule for the whole cluster.
func TestKeyRotationOncePerCluster(t *testing.T) {
	ctx := context.Background()
	c := pgConfig(t)
	clock := clocktest.New(time.Now())
	var rec eventtest.Recorder
	var nodes []*app.App
	for range 2 {
		n := newNode(t, c, clock.Now)
		n.Events.Subscribe(&rec, event.KeyRotated)
		nodes = append(nodes, n)
	}
	first, _ := nodes[0].Keys.Active()
	seen := map[string]bool{first.KID: true}
	for schedule := 1; schedule <= 3; schedule++ {
		clock.Add(c.Policy.Keys.RotationInterval.D() + time.Minute)
		for range 2 {
			var wg sync.WaitGroup
			for _, n := range nodes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := n.Keys.Tick(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		}
		if got := len(rec.Of(event.KeyRotated)); got != schedule {
			t.Fatalf("schedule %d: %d rotations in the cluster so far, want %d", schedule, got, schedule)
		}
		for i, n := range nodes {
			n.Keys.Tick(ctx) // follow the other's rotation
			k, _ := n.Keys.Active()
			if i == 0 && seen[k.KID] {
				t.Fatalf("schedule %d: the active key %s did not change", schedule, k.KID)
			}
			seen[k.KID] = true
		}
		if len(seen) != schedule+1 {
			t.Fatalf("schedule %d: the nodes use different keys: %v", schedule, seen)
		}
	}
}

// BenchmarkRevocationFanOut measures how long a revocation made on node A
// takes to leave node B's cache on PostgreSQL: from the start of A's
// Revoke (its durable commit included) until B's follower has evicted the
// session; revocations one at a time. notify: B is a node as serve builds
// it, LISTENing, polling once a minute; poll1s: B's session manager has no
// listener and polls every second (the safety net alone), revocations
// falling anywhere in its period. revoke-p50-ms
// is A's Revoke alone; after-ack is from its return to B's eviction (0
// when B evicted before A's caller heard back).
func BenchmarkRevocationFanOut(b *testing.B) {
	ctx := context.Background()
	c := pgConfigB(b)
	na, nb := benchNode(b, c), benchNode(b, c)
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := na.Store.CreateUser(ctx, store.User{ID: "u-bench", Username: "bench", PasswordHash: "x", CreatedAt: now, PasswordChangedAt: now}); err != nil {
		b.Fatal(err)
	}
	b.Run("notify", func(b *testing.B) { benchFanOut(b, na.Sessions, nb.Sessions, 0) })
	b.Run("poll1s", func(b *testing.B) {
		pc := app.SessionConfig(c)
		pc.RevocationPoll = time.Second
		pm := session.New(nb.Store, pc)
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); pm.Run(ctx) }()
		defer func() { cancel(); <-done }()
		benchFanOut(b, na.Sessions, pm, time.Second)
	})
}

// benchFanOut revokes on on and waits for to's eviction. Each revocation
// waits a random part of phase first (untimed), so that revocations fall
// anywhere in a poll period instead of locking onto the poller's tick.
func benchFanOut(b *testing.B, on, to *session.Manager, phase time.Duration) {
	ctx := context.Background()
	var total, revoke, after []time.Duration
	for b.Loop() {
		b.StopTimer()
		tok, s, err := on.Create(ctx, session.NewSession{UserID: "u-bench", Username: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := to.Validate(ctx, tok.Reveal(), session.Use{}); err != nil {
			b.Fatal(err)
		}
		if phase > 0 {
			time.Sleep(rand.N(phase))
		}
		evicted := to.Follower().Changed()
		b.StartTimer()
		start := time.Now()
		if _, err := on.Revoke(ctx, s.ID, session.ReasonAdmin); err != nil {
			b.Fatal(err)
		}
		revoked := time.Now()
		select {
		case <-evicted:
		case <-time.After(liveness):
			b.Fatal("B never evicted")
		}
		end := time.Now()
		total = append(total, end.Sub(start))
		revoke = append(revoke, revoked.Sub(start))
		after = append(after, max(0, end.Sub(revoked)))
	}
	b.ReportMetric(pct(total, 50), "p50-ms")
	b.ReportMetric(pct(total, 99), "p99-ms")
	b.ReportMetric(pct(revoke, 50), "revoke-p50-ms")
	b.ReportMetric(pct(after, 50), "after-ack-p50-ms")
	b.ReportMetric(pct(after, 99), "after-ack-p99-ms")
}

func pct(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[(len(s)-1)*p/100]) / float64(time.Millisecond)
}

// pgConfigB and benchNode are pgConfig and node for benchmarks.
func pgConfigB(b *testing.B) config.Config {
	c := config.Default()
	c.Data = filepath.Join(b.TempDir(), "tessera-data")
	c.Policy.Password.Argon2Memory, c.Policy.Password.Argon2Iterations = 64, 1
	c.Store = pgtest.URL(b)
	c.Policy.Tokens.Issuer = "https://auth.cluster.test"
	c.Policy.Session.RevocationPoll = config.Duration(time.Minute)
	return c
}

func benchNode(b *testing.B, c config.Config) *app.App {
	a, err := app.New(context.Background(), c, app.Options{AdminToken: adminToken, Access: app.Migrate})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; a.Close() })
	return a
}

// TestStoreDirectUsed: the migration lock and the listener connect to
// store_direct, not through store: with an unreachable store_direct both
// fail, though store itself answers.
func TestStoreDirectUsed(t *testing.T) {
	ctx := context.Background()
	c := pgConfig(t)
	st, _, err := app.OpenStore(ctx, c, app.Migrate)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	c.StoreDirect = "postgres://127.0.0.1:1/test?connect_timeout=2"
	if _, _, err := app.OpenStore(ctx, c, app.Migrate); err == nil {
		t.Fatal("migrating ignored store_direct")
	}
	if _, err := app.New(ctx, c, app.Options{AdminToken: adminToken}); err == nil || !strings.Contains(err.Error(), "revocation listener") {
		t.Fatalf("New with an unreachable store_direct: %v; want the listener's connection refused", err)
	}
}
