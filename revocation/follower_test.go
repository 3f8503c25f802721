package revocation

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// evictions records what a follower evicts.
type evictions struct {
	mu  sync.Mutex
	ids []string
	all int
}

func (e *evictions) Evict(ids ...string) { e.mu.Lock(); e.ids = append(e.ids, ids...); e.mu.Unlock() }
func (e *evictions) EvictAll()           { e.mu.Lock(); e.all++; e.mu.Unlock() }

func (e *evictions) evicted() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.ids...)
}

type fixture struct{ *sqlitetest.Fixture }

func newFixture(t *testing.T) *fixture { return &fixture{sqlitetest.NewFixture(t)} }

func (f *fixture) follower(st Store, n Notifier) *Follower {
	if st == nil {
		st = f.Store
	}
	return NewFollower(st, &evictions{}, Config{Poll: time.Second, Notifier: n, Now: f.Clock.Now})
}

// start starts fl, failing the test when its first read of the feed fails.
func start(t *testing.T, ctx context.Context, fl *Follower) *Follower {
	t.Helper()
	if err := fl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return fl
}

// session stores a live session of the fixture's user.
func (f *fixture) session(t *testing.T, id string) {
	t.Helper()
	now := f.Clock.Now()
	var h [32]byte
	copy(h[:], id)
	s := store.Session{ID: id, TokenHash: h, UserID: f.User.ID, CreatedAt: now, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IdleTimeout: time.Hour, AAL: 1}
	if _, err := f.Store.CreateSession(context.Background(), s, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// denied is how callers use Denied: an error counts as denied.
func denied(f *Follower, jti string) bool {
	d, err := f.Denied(context.Background(), jti)
	return d || err != nil
}

func TestAccessTokenDenial(t *testing.T) {
	f := newFixture(t)
	a, b := f.follower(nil, nil), f.follower(nil, nil)
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exp := f.Clock.Now().Add(15 * time.Minute)
	if err := a.Deny(ctx, "jti-1", f.User.ID, exp, "revoked"); err != nil {
		t.Fatal(err)
	}
	if !denied(a, "jti-1") || denied(a, "jti-2") {
		t.Fatal("local denial not in force")
	}
	if denied(b, "jti-1") {
		t.Fatal("denied on another node before it read the feed")
	}
	b.Follow(ctx)
	if !denied(b, "jti-1") {
		t.Fatal("the feed did not carry the denial to another node")
	}
	// A node that starts later loads denials that still matter.
	c := start(t, ctx, f.follower(nil, nil))
	if !denied(c, "jti-1") {
		t.Fatal("a node started after the denial does not know it")
	}
	// A node whose feed poller has fallen behind catches up before
	// answering, rather than accepting what another node denied.
	if err := a.Deny(ctx, "jti-3", f.User.ID, exp, "revoked"); err != nil {
		t.Fatal(err)
	}
	c.Distrust()
	if !denied(c, "jti-3") {
		t.Fatal("a stale node accepted a token denied elsewhere")
	}
	// A follower that was never started loads the feed before answering.
	lazy := f.follower(nil, nil)
	if !denied(lazy, "jti-1") {
		t.Fatal("a follower that was never started accepted a denied token")
	}
	// And when it cannot catch up, it denies, and says why.
	broken := &feedless{Store: f.Store}
	d := start(t, ctx, f.follower(broken, nil))
	d.Distrust()
	broken.fail.Store(true)
	if !denied(d, "jti-never-denied") {
		t.Fatal("a node that cannot read the feed accepted a token")
	}
	if denied, err := d.Denied(ctx, "jti-never-denied"); !denied || err == nil {
		t.Fatalf("a node that cannot read the feed: Denied = %v, %v; want true and an error", denied, err)
	}
	f.Clock.Add(15*time.Minute + 20*time.Second)
	if !denied(a, "jti-1") {
		t.Fatal("a denial ended within the verifiers' leeway past exp")
	}
	// Also on a node that starts now, inside that leeway.
	late := start(t, ctx, f.follower(nil, nil))
	if !denied(late, "jti-1") {
		t.Fatal("a node started within the leeway past exp dropped the denial")
	}
	f.Clock.Add(time.Minute)
	if denied(a, "jti-1") {
		t.Fatal("a denial outlived its token by more than the margin")
	}
}

// TestDeniedUsesCallersContext: the catch-up read runs under the caller's
// context, not one of its own.
func TestDeniedUsesCallersContext(t *testing.T) {
	f := newFixture(t)
	st := &ctxStore{Store: f.Store}
	fl := f.follower(st, nil)
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "caller")
	if d, err := fl.Denied(ctx, "jti-1"); d || err != nil {
		t.Fatalf("Denied = %v, %v", d, err)
	}
	if got := st.seen.Load(); got == nil || (*got).Value(key{}) != "caller" {
		t.Fatal("the feed was read under a context that is not the caller's")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	fl.Distrust()
	if d, err := fl.Denied(cancelled, "jti-1"); !d || err == nil {
		t.Fatalf("Denied with an ended context = %v, %v; want true and an error", d, err)
	}
}

// ctxStore remembers the context of the last feed read.
type ctxStore struct {
	Store
	seen atomic.Pointer[context.Context]
}

func (s *ctxStore) LastRevocationSeq(ctx context.Context) (int64, error) {
	s.seen.Store(&ctx)
	return s.Store.LastRevocationSeq(ctx)
}

func (s *ctxStore) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	s.seen.Store(&ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Store.Revocations(ctx, after, limit)
}

// feedless is a store whose revocation feed can be made unreadable.
type feedless struct {
	Store
	fail atomic.Bool
}

func (s *feedless) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	if s.fail.Load() {
		return nil, errors.New("feed unreadable")
	}
	return s.Store.Revocations(ctx, after, limit)
}

// TestFollowEvicts: what the feed names is evicted, the cursor moves past
// it, and Start empties the cache.
func TestFollowEvicts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ev := &evictions{}
	fl := start(t, ctx, NewFollower(f.Store, ev, Config{Poll: time.Second, Now: f.Clock.Now}))
	if ev.all != 1 {
		t.Fatalf("Start evicted all %d times, want 1", ev.all)
	}
	f.session(t, "s1")
	f.session(t, "s2")
	for _, id := range []string{"s1", "s2"} {
		if _, err := f.Store.RevokeSession(ctx, id, f.Clock.Now(), "logout"); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := fl.Follow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := ev.evicted(); len(got) != 2 || got[0] != "s1" || got[1] != "s2" {
		t.Fatalf("evicted %v, want [s1 s2] once each", got)
	}
}
