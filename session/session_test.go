package session

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/revocation/revocationtest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
	"github.com/tessera-auth/tessera/token"
)

type fixture struct {
	*sqlitetest.Fixture
	cfg Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	e := sqlitetest.NewFixture(t)
	return &fixture{Fixture: e, cfg: Config{
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 12 * time.Hour,
		MaxPerUser:      3,
		TouchInterval:   time.Minute,
		RevocationPoll:  time.Second,
		CacheSize:       1000,
		Now:             e.Clock.Now,
	}}
}

func (f *fixture) manager(st Store) *Manager {
	if st == nil {
		st = f.Store
	}
	return New(st, f.cfg)
}

func (f *fixture) login(t *testing.T, m *Manager) (string, Session) {
	t.Helper()
	tok, s, err := m.Create(context.Background(), NewSession{UserID: f.User.ID, Username: f.User.Username, IP: "192.0.2.1", AMR: []string{"pwd"}, AAL: 1})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Reveal(), s
}

func TestCreateValidate(t *testing.T) {
	f := newFixture(t)
	m := f.manager(nil)
	raw, s := f.login(t, m)
	if s.ExpiresAt != f.Clock.Now().Add(12*time.Hour) || s.IdleExpiresAt != f.Clock.Now().Add(30*time.Minute) {
		t.Fatalf("new session expiries: %+v", s)
	}
	raw2, s2 := f.login(t, m)
	if raw2 == raw || s2.ID == s.ID {
		t.Fatal("a new login reused a token or session id")
	}
	for _, cached := range []bool{true, false} {
		if !cached {
			m = f.manager(nil) // a fresh node must answer the same from the store
		}
		got, err := m.Validate(context.Background(), raw, Use{})
		if err != nil {
			t.Fatalf("cached=%v: %v", cached, err)
		}
		if got.ID != s.ID || got.Username != "alice" || got.UserID != "u1" || got.AAL != 1 || len(got.AMR) != 1 {
			t.Fatalf("cached=%v: Validate = %+v", cached, got)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	f := newFixture(t)
	m := f.manager(nil)
	other, _ := token.New(token.Session)
	refresh, _ := token.New(token.Refresh)
	for name, raw := range map[string]string{
		"empty":        "",
		"garbage":      "hello",
		"unknown":      other.Reveal(),
		"wrong kind":   refresh.Reveal(),
		"bad checksum": other.Reveal()[:token.Len-1] + "0",
	} {
		if _, err := m.Validate(context.Background(), raw, Use{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestIdleTimeoutSlides(t *testing.T) {
	for _, cacheSize := range []int{1000, 0} {
		f := newFixture(t)
		f.cfg.CacheSize = cacheSize
		m := f.manager(nil)
		raw, _ := f.login(t, m)
		ctx := context.Background()
		for i := range 5 { // 5 × 29m = 2h25m of activity: well past one idle timeout
			f.Clock.Add(29 * time.Minute)
			if _, err := m.Validate(ctx, raw, Use{}); err != nil {
				t.Fatalf("cache=%d: use %d after 29m idle: %v", cacheSize, i, err)
			}
			if err := m.FlushTouches(ctx); err != nil {
				t.Fatal(err)
			}
		}
		f.Clock.Add(30 * time.Minute)
		if _, err := m.Validate(ctx, raw, Use{}); !errors.Is(err, ErrExpired) {
			t.Fatalf("cache=%d: after 30m idle: %v, want ErrExpired", cacheSize, err)
		}
	}
}

func TestAbsoluteTimeout(t *testing.T) {
	f := newFixture(t)
	m := f.manager(nil)
	raw, _ := f.login(t, m)
	ctx := context.Background()
	for elapsed := time.Duration(0); elapsed < 12*time.Hour-20*time.Minute; elapsed += 20 * time.Minute {
		f.Clock.Add(20 * time.Minute)
		if _, err := m.Validate(ctx, raw, Use{}); err != nil {
			t.Fatalf("at %v: %v", elapsed+20*time.Minute, err)
		}
	}
	f.Clock.Add(20 * time.Minute) // now 12h after login
	if _, err := m.Validate(ctx, raw, Use{}); !errors.Is(err, ErrExpired) {
		t.Fatalf("after 12h: %v, want ErrExpired", err)
	}
	if _, err := f.manager(nil).Validate(ctx, raw, Use{}); !errors.Is(err, ErrExpired) {
		t.Fatalf("after 12h, uncached: %v, want ErrExpired", err)
	}
}

func TestTouchIsThrottled(t *testing.T) {
	f := newFixture(t)
	m := f.manager(nil)
	raw, s := f.login(t, m)
	ctx := context.Background()
	stored := func() time.Time {
		got, _ := f.Store.SessionByID(ctx, s.ID)
		return got.LastSeenAt
	}
	created := stored()
	for range 10 {
		f.Clock.Add(5 * time.Second)
		m.Validate(ctx, raw, Use{})
	}
	m.FlushTouches(ctx)
	if got := stored(); !got.Equal(created) {
		t.Fatalf("last-seen written within the touch interval: %v", got)
	}
	f.Clock.Add(15 * time.Second) // 65s since login
	m.Validate(ctx, raw, Use{})
	m.FlushTouches(ctx)
	if got := stored(); !got.Equal(f.Clock.Now()) {
		t.Fatalf("last-seen = %v after the interval, want %v", got, f.Clock.Now())
	}
}

func TestIdleSeenByAnotherNode(t *testing.T) {
	f := newFixture(t)
	a, b := f.manager(nil), f.manager(nil)
	raw, _ := f.login(t, a)
	ctx := context.Background()
	if _, err := b.Validate(ctx, raw, Use{}); err != nil { // b caches it now
		t.Fatal(err)
	}
	for range 3 { // the user keeps using node a only
		f.Clock.Add(20 * time.Minute)
		a.Validate(ctx, raw, Use{})
		a.FlushTouches(ctx)
	}
	if _, err := b.Validate(ctx, raw, Use{}); err != nil {
		t.Fatalf("node b expired a session active on node a: %v", err)
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t)
	var revoked atomic.Int64
	f.cfg.Events = event.SinkFunc(func(_ context.Context, e event.Event) {
		if e.Kind == event.SessionRevoked {
			revoked.Add(int64(e.Count))
		}
	})
	m := f.manager(nil)
	raw, s := f.login(t, m)
	ctx := context.Background()
	if _, err := m.Revoke(ctx, s.ID, ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Validate(ctx, raw, Use{}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after revoke: %v, want ErrRevoked", err)
	}
	f.Clock.Add(time.Second)
	if _, err := m.Revoke(ctx, s.ID, ReasonLogout); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if revoked.Load() != 1 {
		t.Fatalf("SessionRevoked counted %d, want 1", revoked.Load())
	}
	if _, err := m.Revoke(ctx, "nope", ReasonLogout); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestRevocationReachesOtherNode(t *testing.T) {
	f := newFixture(t)
	a, b := f.manager(nil), f.manager(nil)
	ctx := context.Background()
	raw, s := f.login(t, a)
	if err := a.Follow(ctx); err != nil { // a's cursor starts before the revocation
		t.Fatal(err)
	}
	if _, err := b.Revoke(ctx, s.ID, ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	if err := a.Follow(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Validate(ctx, raw, Use{}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("node a after following the feed: %v, want ErrRevoked", err)
	}
}

// raceStore lets a test revoke a session between the moment a lookup reads
// it from the store and the moment the lookup caches it.
type raceStore struct {
	Store
	afterRead func()
	reads     atomic.Int64
}

func (r *raceStore) SessionByHash(ctx context.Context, h token.Hash) (store.Session, error) {
	s, err := r.Store.SessionByHash(ctx, h)
	r.reads.Add(1)
	if r.afterRead != nil {
		fn := r.afterRead
		r.afterRead = nil
		fn()
	}
	return s, err
}

func TestRevocationDuringLookupIsNotCached(t *testing.T) {
	f := newFixture(t)
	rs := &raceStore{Store: f.Store}
	m := f.manager(rs)
	ctx := context.Background()
	raw, s := f.login(t, f.manager(nil)) // created elsewhere: m must read the store
	rs.afterRead = func() {
		if _, err := m.Revoke(ctx, s.ID, ReasonAdmin); err != nil {
			t.Error(err)
		}
	}
	if _, err := m.Validate(ctx, raw, Use{}); err != nil {
		t.Fatalf("lookup that raced the revocation: %v", err) // read before the revocation: it may pass once
	}
	if _, err := m.Validate(ctx, raw, Use{}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after the race: %v, want ErrRevoked (a stale entry was cached)", err)
	}
	if rs.reads.Load() != 2 {
		t.Fatalf("%d store reads, want 2", rs.reads.Load())
	}
}

func TestSessionCap(t *testing.T) {
	f := newFixture(t)
	m := f.manager(nil)
	ctx := context.Background()
	var raws []string
	for range 4 {
		f.Clock.Add(time.Second)
		raw, _ := f.login(t, m)
		raws = append(raws, raw)
	}
	if _, err := m.Validate(ctx, raws[0], Use{}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("oldest session over the cap of 3: %v, want ErrRevoked", err)
	}
	for _, raw := range raws[1:] {
		if _, err := m.Validate(ctx, raw, Use{}); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := m.List(ctx, f.User.ID)
	if len(list) != 3 {
		t.Fatalf("List = %d sessions, want 3", len(list))
	}
}

func TestRevokeUser(t *testing.T) {
	f := newFixture(t)
	m := f.manager(nil)
	ctx := context.Background()
	keep, ks := f.login(t, m)
	other, _ := f.login(t, m)
	ids, err := m.RevokeUser(ctx, f.User.ID, ks.ID, ReasonPasswordChange)
	if err != nil || len(ids) != 1 {
		t.Fatalf("RevokeUser = %v, %v", ids, err)
	}
	if _, err := m.Validate(ctx, other, Use{}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("other session: %v", err)
	}
	if _, err := m.Validate(ctx, keep, Use{}); err != nil {
		t.Fatalf("kept session: %v", err)
	}
}

func TestFailClosed(t *testing.T) {
	f := newFixture(t)
	m := f.manager(nil)
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	raw, _ := f.login(t, m)
	m.fol.Distrust() // the feed has been silent for too long
	f.Store.Close()
	if _, err := m.Validate(ctx, raw, Use{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("cached session with a dead feed and store: %v, want ErrUnavailable", err)
	}
}

func TestCSRF(t *testing.T) {
	a, _ := token.New(token.Session)
	b, _ := token.New(token.Session)
	ca := CSRFToken(a.Reveal())
	if !CheckCSRF(a.Reveal(), ca) {
		t.Fatal("own CSRF token refused")
	}
	for _, bad := range []string{"", CSRFToken(b.Reveal()), ca[:len(ca)-1], ca + "x"} {
		if CheckCSRF(a.Reveal(), bad) {
			t.Fatalf("CSRF token %q accepted", bad)
		}
	}
}

// TestCachedSessionMemory holds the cache to its budget of 512 bytes per
// session (issue 8: a node caches its whole working set).
func TestCachedSessionMemory(t *testing.T) {
	const n = 50000
	m := New(nil, Config{IdleTimeout: time.Minute})
	hashes := make([]token.Hash, n)
	ids := make([]string, n)
	for i := range n {
		tok, _ := token.New(token.Session)
		hashes[i] = tok.Hash()
		ids[i] = "0193b1c2-7d4e-7f00-8a1b-" + tok.Reveal()[4:16]
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newCache(n)
	for i := range n {
		// What a login caches: fresh strings per session, as the store returns them.
		s := store.Session{ID: string([]byte(ids[i])), UserID: string([]byte("0193b1c2-7d4e-7f00-8a1b-2c3d4e5f6a7b")), AMR: []string{"pwd"}, AAL: 1}
		c.insert(hashes[i], m.entryOf(s, string([]byte("alice.example")), CSRFToken(string(hashes[i][:]))), 0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEntry := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("cache: %.0f bytes per session", perEntry)
	if c.len() != n {
		t.Fatalf("cache holds %d, want %d", c.len(), n)
	}
	if perEntry > 512 {
		t.Fatalf("%.0f bytes per cached session, budget 512", perEntry)
	}
	runtime.KeepAlive(c)
	runtime.KeepAlive(hashes)
}

func TestFlushAllKeepsIdleAcrossRestart(t *testing.T) {
	f := newFixture(t)
	f.cfg.TouchInterval = 5 * time.Minute
	m := f.manager(nil)
	raw, _ := f.login(t, m)
	ctx := context.Background()
	f.Clock.Add(3 * time.Minute) // used within the touch interval: not yet queued
	if _, err := m.Validate(ctx, raw, Use{}); err != nil {
		t.Fatal(err)
	}
	if err := m.FlushAll(ctx); err != nil { // what shutdown does
		t.Fatal(err)
	}
	f.Clock.Add(29 * time.Minute) // 32m after login, 29m after last use
	if _, err := f.manager(nil).Validate(ctx, raw, Use{}); err != nil {
		t.Fatalf("after a restart the last use was lost: %v", err)
	}
}

func TestCreateRefusesStaleCredentials(t *testing.T) {
	f := newFixture(t)
	m := f.manager(nil)
	ctx := context.Background()
	if err := f.Store.SetPasswordHash(ctx, f.User.ID, "new", f.Clock.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_, _, err := m.Create(ctx, NewSession{UserID: f.User.ID, Username: "alice", PasswordChangedAt: f.User.PasswordChangedAt})
	if !errors.Is(err, ErrStaleCredentials) {
		t.Fatalf("login checked against the old password: %v, want ErrStaleCredentials", err)
	}
}

// TestRevokedSignal: the follower's Changed channel closes at every
// revocation the manager commits or reads from the feed, and not otherwise.
func TestRevokedSignal(t *testing.T) {
	f := newFixture(t)
	a, b := f.manager(nil), f.manager(nil)
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	_, s := f.login(t, a)
	for _, tt := range []struct {
		name string
		m    *Manager
		do   func() error
		want bool
	}{
		{"nothing happened", a, func() error { return nil }, false},
		{"logout", a, func() error { _, err := a.Revoke(ctx, s.ID, "logout"); return err }, true},
		{"feed read with entries", b, func() error { return b.Follow(ctx) }, true},
		{"feed read with nothing new", b, func() error { return b.Follow(ctx) }, false},
		{"access token denial", a, func() error {
			return a.Follower().Deny(ctx, "jti-9", f.User.ID, f.Clock.Now().Add(time.Minute), "revoked")
		}, true},
	} {
		ch := tt.m.Follower().Changed()
		if err := tt.do(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := closed(ch); got != tt.want {
			t.Errorf("%s: signalled = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// ackLost commits revocations but reports an error, as when the caller's
// context ends while waiting for the fsync.
type ackLost struct{ Store }

func (s ackLost) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, error) {
	s.Store.RevokeSession(ctx, id, at, reason)
	return store.Session{}, errors.New("context deadline exceeded while waiting for fsync")
}

// TestRevokeErrorStillEvicts: a revocation that committed but reported an
// error must not leave the session live in this node's cache.
func TestRevokeErrorStillEvicts(t *testing.T) {
	f := newFixture(t)
	m := f.manager(ackLost{f.Store})
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	tok, s := f.login(t, m)
	if _, err := m.Validate(ctx, tok, Use{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Revoke(ctx, s.ID, "logout"); err == nil {
		t.Fatal("the store's error was swallowed")
	}
	if _, err := m.Validate(ctx, tok, Use{}); err == nil {
		t.Fatal("a session whose revocation committed is still valid from the cache")
	}
}

// TestLongPollWakesOnLocalRevocation: a revocation this node commits wakes
// a feed long poll at once. The poll bound is an hour, so nothing else can
// end the wait; the watchdog only turns a missing wake-up into a failure.
func TestLongPollWakesOnLocalRevocation(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m := f.manager(nil)
	_, s := f.login(t, m)
	st := revocationtest.NewReadSignal(f.Store)
	feed := revocation.NewFeed(st, m.Follower(), revocation.FeedConfig{AccessTTL: 15 * time.Minute, Poll: time.Hour, Now: f.Clock.Now})
	done := revocationtest.LongPoll(ctx, feed, 0, time.Hour)
	st.Wait(t, ctx) // the poll found nothing and waits
	if _, err := m.Revoke(ctx, s.ID, ReasonLogout); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Err != nil {
		t.Fatalf("the long poll was not woken by a local revocation: %v", r.Err)
	}
	if len(r.Page.Entries) != 1 || r.Page.Entries[0].SessionID != s.ID {
		t.Fatalf("long poll = %+v", r.Page)
	}
}
