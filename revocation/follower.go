package revocation

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// Store is what a follower reads, and where it records denials.
type Store interface {
	Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error)
	LastRevocationSeq(ctx context.Context) (int64, error)
	ActiveRevocations(ctx context.Context, sessionsSince, now time.Time) ([]store.Revocation, error)
	DenyAccessToken(ctx context.Context, jti, userID string, expires, at time.Time, reason string) error
}

// Evictor is the node's session cache as the follower sees it.
type Evictor interface {
	// Evict drops the named sessions, and must keep a fill that read the
	// store before the call from caching them afterwards.
	Evict(ids ...string)
	// EvictAll drops every cached session, likewise.
	EvictAll()
}

// Config is how a follower runs.
type Config struct {
	// Poll is how often Run reads the feed without a notification: the
	// bound on the delay of a revocation committed by another process.
	Poll time.Duration
	// Notifier carries revocations between processes; nil means an
	// in-process one (NewLocal), which is exact for a single process.
	Notifier Notifier
	// Now is the clock for expiries; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Follower keeps one node in step with the revocation feed: it evicts the
// sessions the feed names from the node's cache, holds the access tokens
// denied until they expire, and tells when the cache may no longer be
// trusted. It also implements Notifier for the node: Notify after a
// revocation this node commits; Changed closes at every revocation the node
// commits or reads from the feed. Safe for concurrent use.
type Follower struct {
	st  Store
	ev  Evictor
	n   Notifier
	cfg Config
	now func() time.Time
	log *slog.Logger

	// lastPoll is when the feed last answered (wall time, not the injected
	// clock: it measures this process's own liveness).
	lastPoll  atomic.Int64
	cursor    atomic.Int64
	following atomic.Bool

	// wake is closed at every revocation this node commits or reads.
	wake *Local

	// sem (capacity 1) serialises feed reads, so the cursor only moves
	// forward, without making a request wait past its deadline.
	sem chan struct{}

	// denied holds revoked access tokens (jti → expiry, unix ns) until they
	// would have expired anyway, and DenyMargin beyond.
	deniedMu    sync.RWMutex
	denied      map[string]int64
	deniedSweep int64

	// keyRevoked is told of each signing-key revocation the feed carries.
	keyRevoked atomic.Pointer[func(ctx context.Context, kid string)]
}

// OnKeyRevoked makes the follower call fn for every signing-key
// revocation it reads from the feed (store.Revocation.KID): the node's
// keyset drops the key at once, not at its next reload. Set it before Run.
func (f *Follower) OnKeyRevoked(fn func(ctx context.Context, kid string)) {
	f.keyRevoked.Store(&fn)
}

// NewFollower returns a follower of st's feed that evicts through ev.
func NewFollower(st Store, ev Evictor, cfg Config) *Follower {
	f := &Follower{st: st, ev: ev, n: cfg.Notifier, cfg: cfg, now: cfg.Now, log: cfg.Logger,
		wake: NewLocal(), sem: make(chan struct{}, 1), denied: map[string]int64{}}
	if f.n == nil {
		f.n = NewLocal()
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f
}

// Notify records that this node committed a revocation (and evicted what
// it revoked): this node's waiters wake at once, and other processes are
// told through the configured Notifier. Its error is only logged: the
// others' poll bounds a lost notification.
func (f *Follower) Notify(ctx context.Context) error {
	f.wake.Notify(ctx)
	if err := f.n.Notify(ctx); err != nil {
		f.log.Warn("revocation notification failed; other nodes learn of it at their next poll", "err", err)
	}
	return nil
}

// Changed returns a channel closed at the next revocation this node
// commits or reads from the feed. Take it before reading the feed, so a
// revocation in between is not missed.
func (f *Follower) Changed() <-chan struct{} { return f.wake.Changed() }

// Deny revokes one access token until its expiry: durable and on the feed
// before it returns, refused on this node at once.
func (f *Follower) Deny(ctx context.Context, jti, userID string, expires time.Time, reason string) error {
	err := f.st.DenyAccessToken(ctx, jti, userID, expires, f.now(), reason)
	// Deny here even on error: the denial may have committed, and denying
	// a token its owner asked to revoke is never wrong.
	f.deny(jti, expires.UnixNano())
	f.Notify(ctx)
	if err != nil {
		return fmt.Errorf("revocation: deny access token: %w", err)
	}
	return nil
}

func (f *Follower) deny(jti string, exp int64) {
	f.deniedMu.Lock()
	f.denied[jti] = exp
	f.deniedMu.Unlock()
}

// Denied reports whether the access token jti was revoked. While the feed
// is stale it first catches up, and a follower that has not loaded the
// feed yet (Start) does so first: denials live only in memory and on the
// feed, and one made elsewhere must not be missed because the poller is
// failing. ctx bounds that read (and at most 2 s). An error means the
// answer is unknown: callers treat the token as denied, and Denied then
// reports true as well.
func (f *Follower) Denied(ctx context.Context, jti string) (bool, error) {
	if !f.following.Load() || !f.Trusted() {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := f.Start(ctx)
		if err == nil {
			err = f.catchUp(ctx)
		}
		cancel()
		if err != nil {
			return true, err
		}
	}
	f.deniedMu.RLock()
	exp, ok := f.denied[jti]
	f.deniedMu.RUnlock()
	// Kept past exp by the verifiers' clock-skew leeway, during which an
	// expired token would otherwise verify again.
	return ok && f.now().UnixNano() < exp+int64(DenyMargin), nil
}

// sweepDenied drops denials of tokens that have expired, at most once a minute.
func (f *Follower) sweepDenied() {
	now := f.now().UnixNano()
	f.deniedMu.Lock()
	defer f.deniedMu.Unlock()
	if now-f.deniedSweep < int64(time.Minute) {
		return
	}
	f.deniedSweep = now
	for jti, exp := range f.denied {
		if exp+int64(DenyMargin) <= now {
			delete(f.denied, jti)
		}
	}
}

// Trusted reports whether the feed was read recently enough for cached
// sessions to be believed: if it could not be read for 5 polls (at least
// 3 s), callers must read the store, and fail closed when it cannot answer.
// Before Start, only this process's own revocations are known, which is
// exact for a single process.
func (f *Follower) Trusted() bool {
	if !f.following.Load() {
		return true
	}
	stale := max(5*f.cfg.Poll, 3*time.Second)
	return time.Since(time.Unix(0, f.lastPoll.Load())) < stale
}

// LastRead is when this node last read the feed to its end (wall time);
// zero before Start. Its age is the node's staleness (a metric): past a
// few polls, revocations committed elsewhere are not yet seen here.
func (f *Follower) LastRead() time.Time {
	if !f.following.Load() {
		return time.Time{}
	}
	if n := f.lastPoll.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Distrust makes Trusted false until the next feed read: after a
// revocation whose outcome is unknown (it may have committed).
func (f *Follower) Distrust() {
	if f.following.Load() {
		f.lastPoll.Store(0)
	}
}

// Start loads what the feed already holds: the cursor, and the access
// tokens denied until they expire. Call it before serving requests: until
// it returns, this process knows only its own revocations, so a token
// another process (or this one before a restart) denied would pass. It
// empties the cache, whose entries may have been revoked before the cursor
// was read. Run calls it; calling it again does nothing.
func (f *Follower) Start(ctx context.Context) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.unlock()
	if f.following.Load() {
		return nil
	}
	seq, err := f.st.LastRevocationSeq(ctx)
	if err != nil {
		return fmt.Errorf("revocation: follow the feed: %w", err)
	}
	// Denials older than the cursor still matter until their tokens
	// expire, and DenyMargin beyond.
	expired := f.now().Add(-DenyMargin)
	active, err := f.st.ActiveRevocations(ctx, expired, expired)
	if err != nil {
		return fmt.Errorf("revocation: load denied access tokens: %w", err)
	}
	f.cursor.Store(seq)
	for _, r := range active {
		if r.JTI != "" && r.Seq <= seq {
			f.deny(r.JTI, r.ExpiresAt.UnixNano())
		}
	}
	f.lastPoll.Store(time.Now().UnixNano())
	f.following.Store(true)
	f.ev.EvictAll()
	return nil
}

// Run follows the feed until ctx ends: at every notification, and every
// Poll whatever happens, so that Poll bounds the delay of a revocation
// another process committed even if its notification is lost.
func (f *Follower) Run(ctx context.Context) error {
	if err := f.Start(ctx); err != nil {
		return err
	}
	poll := time.NewTicker(f.cfg.Poll)
	defer poll.Stop()
	for {
		// Taken before the read: a notification sent during it wakes
		// the next wait.
		changed := f.n.Changed()
		if err := f.Follow(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("revocation feed unreadable; cached sessions are not trusted until it recovers", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-changed:
		}
	}
}

// Follow reads the feed once and evicts what it names.
func (f *Follower) Follow(ctx context.Context) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.unlock()
	return f.follow(ctx)
}

func (f *Follower) lock(ctx context.Context) error {
	select {
	case f.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("revocation: waiting for the feed: %w", ctx.Err())
	}
}

func (f *Follower) unlock() { <-f.sem }

// catchUp reads the feed unless another caller has just done so.
func (f *Follower) catchUp(ctx context.Context) error {
	if err := f.lock(ctx); err != nil {
		return err
	}
	defer f.unlock()
	if f.Trusted() {
		return nil
	}
	return f.follow(ctx)
}

func (f *Follower) follow(ctx context.Context) error {
	for {
		revs, err := f.st.Revocations(ctx, f.cursor.Load(), pageSize)
		if err != nil {
			return err
		}
		if len(revs) > 0 {
			var ids []string
			for _, r := range revs {
				switch {
				case r.KID != "":
					if fn := f.keyRevoked.Load(); fn != nil {
						(*fn)(ctx, r.KID)
					}
				case r.JTI != "":
					f.deny(r.JTI, r.ExpiresAt.UnixNano())
				default:
					// A session revoked, or only changed (EvictOnly: a
					// step-up mark): either way the cached copy goes.
					ids = append(ids, r.SessionID)
				}
			}
			f.ev.Evict(ids...)
			f.cursor.Store(revs[len(revs)-1].Seq)
			f.wake.Notify(ctx)
		}
		if len(revs) < pageSize {
			f.lastPoll.Store(time.Now().UnixNano())
			f.sweepDenied()
			return nil
		}
	}
}
