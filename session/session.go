package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// Errors callers branch on. ErrInvalid, ErrExpired and ErrRevoked all mean
// "not authenticated"; they differ only for logs and metrics.
var (
	ErrInvalid     = errors.New("session: invalid token")
	ErrExpired     = errors.New("session: expired")
	ErrRevoked     = errors.New("session: revoked")
	ErrNotFound    = errors.New("session: not found")
	ErrUnavailable = errors.New("session: store unavailable")
	// ErrStaleCredentials: the password changed while this login was being checked.
	ErrStaleCredentials = errors.New("session: credentials changed during login")
)

// Revocation reasons recorded with each revoked session.
const (
	ReasonLogout         = "logout"
	ReasonUser           = "user_revoked"
	ReasonOthers         = "revoke_others"
	ReasonPasswordChange = "password_change"
	ReasonAdmin          = "admin"
	ReasonLimit          = "session_limit"
)

// Store is what the engine needs from storage.
type Store interface {
	UserByID(ctx context.Context, id string) (store.User, error)
	CreateSession(ctx context.Context, s store.Session, opt store.CreateOptions) ([]string, error)
	SessionByHash(ctx context.Context, h token.Hash) (store.Session, error)
	SessionByID(ctx context.Context, id string) (store.Session, error)
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error)
	TouchSessions(ctx context.Context, seen map[string]time.Time) error
	RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, error)
	RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) ([]string, error)
	Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error)
	LastRevocationSeq(ctx context.Context) (int64, error)
	ActiveRevocations(ctx context.Context, sessionsSince, now time.Time) ([]store.Revocation, error)
	DenyAccessToken(ctx context.Context, jti, userID string, expires, at time.Time, reason string) error
}

// Config is the lifecycle policy the engine enforces.
type Config struct {
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	MaxPerUser      int           // 0: no cap
	TouchInterval   time.Duration // how stale a stored last-seen may get
	RevocationPoll  time.Duration // feed polling period: the cross-process revocation bound
	CacheSize       int           // 0: no cache, every validation reads the store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Events receives the lifecycle events (event.SessionCreated,
	// SessionValidated, SessionRenewed, SessionRevoked, and LoginFailed
	// for stale credentials); nil publishes none.
	Events event.Sink
	Logger *slog.Logger
}

// Use is the context in which a credential is presented: what detection
// rules compare between uses of one session.
type Use struct {
	IP        netip.Addr // the client's address; zero if unknown
	UserAgent string
	// At is when the credential was presented; zero means now by the
	// manager's clock. Expiry is always decided by the manager's clock.
	At time.Time
}

// Manager runs the session lifecycle. Safe for concurrent use; call Run in a
// goroutine to follow revocations made elsewhere and flush last-seen times.
type Manager struct {
	st    Store
	cfg   Config
	ev    event.Sink // nil: no events
	now   func() time.Time
	log   *slog.Logger
	cache *cache

	// lastPoll is when the revocation feed last answered (wall time, not the
	// injected clock: it measures this process's own liveness).
	lastPoll  atomic.Int64
	cursor    atomic.Int64
	following atomic.Bool

	wakeMu sync.Mutex
	wake   chan struct{} // see Revoked

	// followSem (capacity 1) serialises feed reads, so the cursor only
	// moves forward, without making a request wait past its deadline.
	followSem chan struct{}

	touchMu sync.Mutex
	touches map[string]time.Time

	// denied holds revoked access tokens (jti → expiry, unix ns) until they
	// would have expired anyway.
	deniedMu    sync.RWMutex
	denied      map[string]int64
	deniedSweep int64
}

// New returns a manager over st.
func New(st Store, cfg Config) *Manager {
	m := &Manager{st: st, cfg: cfg, ev: cfg.Events, now: cfg.Now, log: cfg.Logger, touches: map[string]time.Time{}, denied: map[string]int64{}, wake: make(chan struct{}), followSem: make(chan struct{}, 1)}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.cache = newCache(cfg.CacheSize)
	return m
}

// Session is a validated session as callers see it.
type Session struct {
	ID, UserID, Username string
	CreatedAt            time.Time
	AuthTime             time.Time
	ExpiresAt            time.Time // absolute
	IdleExpiresAt        time.Time
	LastSeenAt           time.Time
	AMR                  []string
	AAL                  int
	// CSRFToken is the session's CSRF token (see CSRFToken), kept so
	// whoami need not recompute it.
	CSRFToken string
}

// NewSession describes a login that just succeeded.
type NewSession struct {
	UserID, Username string
	IP, UserAgent    string
	AMR              []string
	AAL              int
	// PasswordChangedAt is the user's credential epoch read when the
	// password was checked; if it has moved since, Create fails with
	// ErrStaleCredentials. Zero skips the check.
	PasswordChangedAt time.Time
	// IdleTimeout and AbsoluteTimeout override the configured ones (zero:
	// the configured). Sessions behind refresh tokens live longer than
	// browser sessions.
	IdleTimeout, AbsoluteTimeout time.Duration
}

// Create starts a session with a fresh token and ID (never reusing the
// caller's previous ones, which defeats fixation) and enforces the per-user cap.
func (m *Manager) Create(ctx context.Context, ns NewSession) (token.Token, Session, error) {
	tok, err := token.New(token.Session)
	if err != nil {
		return token.Token{}, Session{}, fmt.Errorf("session: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return token.Token{}, Session{}, fmt.Errorf("session: id: %w", err)
	}
	now := m.now().UTC().Truncate(time.Microsecond)
	idle, abs := m.cfg.IdleTimeout, m.cfg.AbsoluteTimeout
	if ns.IdleTimeout > 0 {
		idle = ns.IdleTimeout
	}
	if ns.AbsoluteTimeout > 0 {
		abs = ns.AbsoluteTimeout
	}
	s := store.Session{
		ID:          id.String(),
		TokenHash:   tok.Hash(),
		UserID:      ns.UserID,
		CreatedAt:   now,
		AuthTime:    now,
		ExpiresAt:   now.Add(abs),
		LastSeenAt:  now,
		IdleTimeout: idle,
		IP:          ns.IP,
		UserAgent:   truncate(ns.UserAgent, 512),
		AMR:         ns.AMR,
		AAL:         ns.AAL,
	}
	gen := m.cache.generation()
	evicted, err := m.st.CreateSession(ctx, s, store.CreateOptions{
		MaxPerUser:        m.cfg.MaxPerUser,
		PasswordChangedAt: ns.PasswordChangedAt,
	})
	ip, _ := netip.ParseAddr(ns.IP)
	if errors.Is(err, store.ErrStale) {
		m.publish(ctx, event.Event{Kind: event.LoginFailed, At: now, IP: ip, UserAgent: s.UserAgent, UserID: ns.UserID, Reason: event.ReasonStaleCredentials})
		return token.Token{}, Session{}, ErrStaleCredentials
	}
	if err != nil {
		return token.Token{}, Session{}, fmt.Errorf("session: create: %w", err)
	}
	if len(evicted) > 0 {
		m.cache.evict(evicted...)
		m.revoked(ctx, event.Event{Reason: ReasonLimit, Count: len(evicted), UserID: ns.UserID})
		gen = m.cache.generation()
	}
	e := m.entryOf(s, ns.Username, CSRFToken(tok.Reveal()))
	m.cache.insert(s.TokenHash, e, gen)
	m.publish(ctx, event.Event{Kind: event.SessionCreated, At: now, IP: ip, UserAgent: s.UserAgent, UserID: s.UserID, SessionID: s.ID})
	return tok, m.view(e), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (m *Manager) entryOf(s store.Session, username, csrf string) *entry {
	e := &entry{
		csrf:     csrf,
		id:       s.ID,
		userID:   s.UserID,
		username: username,
		amr:      s.AMR,
		aal:      s.AAL,
		created:  s.CreatedAt.UnixNano(),
		authTime: s.AuthTime.UnixNano(),
		expires:  s.ExpiresAt.UnixNano(),
		idle:     int64(s.IdleTimeout),
	}
	e.lastSeen.Store(s.LastSeenAt.UnixNano())
	e.lastWritten.Store(s.LastSeenAt.UnixNano())
	return e
}

func (m *Manager) view(e *entry) Session {
	seen := e.lastSeen.Load()
	return Session{
		ID:            e.id,
		UserID:        e.userID,
		Username:      e.username,
		CreatedAt:     time.Unix(0, e.created).UTC(),
		AuthTime:      time.Unix(0, e.authTime).UTC(),
		ExpiresAt:     time.Unix(0, e.expires).UTC(),
		IdleExpiresAt: idleExpiry(e.expires, seen, e.idle),
		LastSeenAt:    time.Unix(0, seen).UTC(),
		AMR:           e.amr,
		AAL:           e.aal,
		CSRFToken:     e.csrf,
	}
}

func idleExpiry(expires, seen, idle int64) time.Time {
	return time.Unix(0, min(expires, seen+idle)).UTC()
}

// Validate checks a presented session token and, if it is live, slides its
// idle timeout. It fails closed: if the store cannot answer, or this node
// has lost track of the revocation feed, the token is not accepted from cache.
// u is the context of this use, published with event.SessionValidated.
func (m *Manager) Validate(ctx context.Context, raw string, u Use) (Session, error) {
	now := m.now().UnixNano()
	s, err := m.validate(ctx, raw, now)
	if m.ev != nil {
		m.validated(ctx, u, now, s, err)
	}
	return s, err
}

func (m *Manager) validate(ctx context.Context, raw string, now int64) (Session, error) {
	tok, err := token.Parse(token.Session, raw)
	if err != nil {
		return Session{}, ErrInvalid
	}
	h := tok.Hash()
	if m.cacheTrusted() {
		if e := m.cache.get(h); e != nil {
			if now < e.expires && now < e.lastSeen.Load()+e.idle {
				m.touch(ctx, e, now)
				v := m.view(e)
				if v.CSRFToken == "" {
					// Cached by ID (from an access token): no raw token then.
					v.CSRFToken = CSRFToken(raw)
				}
				return v, nil
			}
			// Another node may have seen it more recently: ask the store.
			m.cache.drop(h, e)
		}
	}
	return m.load(ctx, raw, h, now)
}

// ValidateID checks that the session with this ID is live, for callers
// holding a credential derived from it (an access token's "sid"). It slides
// the idle timeout and publishes like Validate.
func (m *Manager) ValidateID(ctx context.Context, id string, u Use) (Session, error) {
	now := m.now().UnixNano()
	s, err := m.validateID(ctx, id, now)
	if m.ev != nil {
		m.validated(ctx, u, now, s, err)
	}
	return s, err
}

// validated publishes event.SessionValidated for a validation's outcome.
// A store that could not answer says nothing about the credential: no event.
func (m *Manager) validated(ctx context.Context, u Use, now int64, s Session, err error) {
	e := event.Event{Kind: event.SessionValidated, At: u.At, IP: u.IP, UserAgent: u.UserAgent, UserID: s.UserID, SessionID: s.ID}
	if e.At.IsZero() {
		e.At = time.Unix(0, now).UTC()
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrInvalid):
		e.Reason = event.ReasonInvalid
	case errors.Is(err, ErrExpired):
		e.Reason = event.ReasonExpired
	case errors.Is(err, ErrRevoked):
		e.Reason = event.ReasonRevoked
	default:
		return
	}
	m.ev.Publish(ctx, e)
}

func (m *Manager) validateID(ctx context.Context, id string, now int64) (Session, error) {
	if m.cacheTrusted() {
		if h, e := m.cache.getByID(id); e != nil {
			if now < e.expires && now < e.lastSeen.Load()+e.idle {
				m.touch(ctx, e, now)
				return m.view(e), nil
			}
			m.cache.drop(h, e)
		}
	}
	gen := m.cache.generation()
	s, err := m.st.SessionByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrInvalid
	}
	if err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return m.admit(ctx, s, "", now, gen)
}

// load reads a session from the store, validates it and caches it.
func (m *Manager) load(ctx context.Context, raw string, h token.Hash, now int64) (Session, error) {
	gen := m.cache.generation()
	s, err := m.st.SessionByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrInvalid
	}
	if err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return m.admit(ctx, s, CSRFToken(raw), now, gen)
}

// admit validates a session read from the store and caches it unless a
// revocation happened since gen was read.
func (m *Manager) admit(ctx context.Context, s store.Session, csrf string, now int64, gen uint64) (Session, error) {
	if s.Revoked() {
		return Session{}, ErrRevoked
	}
	if now >= s.ExpiresAt.UnixNano() || now >= s.LastSeenAt.UnixNano()+int64(s.IdleTimeout) {
		return Session{}, ErrExpired
	}
	u, err := m.st.UserByID(ctx, s.UserID)
	if err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	e := m.entryOf(s, u.Username, csrf)
	m.touch(ctx, e, now)
	m.cache.insert(s.TokenHash, e, gen)
	return m.view(e), nil
}

// touch slides the idle timeout in memory and queues a store write at most
// once per TouchInterval, so a busy session does not write on every request.
func (m *Manager) touch(ctx context.Context, e *entry, now int64) {
	for {
		old := e.lastSeen.Load()
		if now <= old || e.lastSeen.CompareAndSwap(old, now) {
			break
		}
	}
	w := e.lastWritten.Load()
	if now-w < int64(m.cfg.TouchInterval) || !e.lastWritten.CompareAndSwap(w, now) {
		return
	}
	t := time.Unix(0, now).UTC()
	m.touchMu.Lock()
	m.touches[e.id] = t
	m.touchMu.Unlock()
	m.publish(ctx, event.Event{Kind: event.SessionRenewed, At: t, UserID: e.userID, SessionID: e.id})
}

// FlushTouches writes queued last-seen times to the store.
func (m *Manager) FlushTouches(ctx context.Context) error {
	m.touchMu.Lock()
	batch := m.touches
	m.touches = map[string]time.Time{}
	m.touchMu.Unlock()
	if err := m.st.TouchSessions(ctx, batch); err != nil {
		// Put them back; a newer touch queued meanwhile wins.
		m.touchMu.Lock()
		for id, t := range batch {
			if cur, ok := m.touches[id]; !ok || cur.Before(t) {
				m.touches[id] = t
			}
		}
		m.touchMu.Unlock()
		return fmt.Errorf("session: flush last-seen: %w", err)
	}
	return nil
}

// FlushAll writes every last-seen time this node knows and the store does
// not, including those newer than TouchInterval that would normally wait:
// at shutdown nothing may be lost, or a restart would idle-expire sessions
// early.
func (m *Manager) FlushAll(ctx context.Context) error {
	m.touchMu.Lock()
	m.cache.each(func(e *entry) {
		if seen := e.lastSeen.Load(); seen > e.lastWritten.Load() {
			if t := time.Unix(0, seen).UTC(); m.touches[e.id].Before(t) {
				m.touches[e.id] = t
			}
		}
	})
	m.touchMu.Unlock()
	return m.FlushTouches(ctx)
}

// Lookup returns a session by ID, whether live or not, for admin views.
func (m *Manager) Lookup(ctx context.Context, id string) (store.Session, error) {
	s, err := m.st.SessionByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, ErrNotFound
	}
	return s, err
}

// List returns the user's live sessions, newest first, with last-seen times
// as fresh as this node knows them.
func (m *Manager) List(ctx context.Context, userID string) ([]store.Session, error) {
	now := m.now()
	ss, err := m.st.ListUserSessions(ctx, userID, now)
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	out := ss[:0]
	for _, s := range ss {
		if e := m.cache.get(s.TokenHash); e != nil {
			s.LastSeenAt = time.Unix(0, e.lastSeen.Load()).UTC()
		}
		if !now.Before(s.LastSeenAt.Add(s.IdleTimeout)) {
			continue // idle-expired
		}
		out = append(out, s)
	}
	return out, nil
}

// IdleExpiry returns when s times out if unused from now on.
func (m *Manager) IdleExpiry(s store.Session) time.Time {
	return idleExpiry(s.ExpiresAt.UnixNano(), s.LastSeenAt.UnixNano(), int64(s.IdleTimeout))
}

// Revoke ends one session. It returns only once the revocation is durable,
// and the session is refused on this node from that moment.
func (m *Manager) Revoke(ctx context.Context, id, reason string) (store.Session, error) {
	at := m.now().UTC().Truncate(time.Microsecond)
	s, err := m.st.RevokeSession(ctx, id, at, reason)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, ErrNotFound
	}
	// Evict even on error: the revocation may have committed before the
	// error (an fsync that failed after the commit), and a cache miss costs
	// one store read.
	m.cache.evict(id)
	if err != nil {
		return store.Session{}, fmt.Errorf("session: revoke: %w", err)
	}
	if s.RevokedAt.Equal(at) && s.RevokeReason == reason {
		m.revoked(ctx, event.Event{Reason: reason, Count: 1, SessionID: id, UserID: s.UserID})
	}
	return s, nil
}

// RevokeUser ends every live session of the user except one (may be empty).
func (m *Manager) RevokeUser(ctx context.Context, userID, except, reason string) ([]string, error) {
	ids, err := m.st.RevokeUserSessions(ctx, userID, except, m.now(), reason)
	if err != nil {
		m.distrustCache()
		return nil, fmt.Errorf("session: revoke user: %w", err)
	}
	m.cache.evict(ids...)
	m.revoked(ctx, event.Event{Reason: reason, Count: len(ids), UserID: userID})
	return ids, nil
}

// revoked reports e.Count sessions this node revoked (or learned of from
// another component's transaction): event.SessionRevoked, and a wake-up for
// the feed's long polls.
func (m *Manager) revoked(ctx context.Context, e event.Event) {
	if e.Count <= 0 {
		return
	}
	m.signal() // long polls first: subscribers may take their time
	e.Kind, e.At = event.SessionRevoked, m.now().UTC()
	m.publish(ctx, e)
}

func (m *Manager) publish(ctx context.Context, e event.Event) {
	if m.ev != nil {
		m.ev.Publish(ctx, e)
	}
}

// Revoked returns a channel that is closed at the next revocation this
// manager commits or reads from the feed: a revocation-feed long poll waits
// on it instead of re-reading the store on a timer. Take the channel before
// reading the feed, so a revocation in between is not missed.
func (m *Manager) Revoked() <-chan struct{} {
	m.wakeMu.Lock()
	defer m.wakeMu.Unlock()
	return m.wake
}

func (m *Manager) signal() {
	m.wakeMu.Lock()
	close(m.wake)
	m.wake = make(chan struct{})
	m.wakeMu.Unlock()
}

// Forget drops sessions from this node's cache at once: for revocations
// committed by another component inside its own transaction (refresh-token
// reuse), which would otherwise reach this node only through the feed.
func (m *Manager) Forget(reason string, ids ...string) {
	m.cache.evict(ids...)
	e := event.Event{Reason: reason, Count: len(ids)}
	if len(ids) == 1 {
		e.SessionID = ids[0]
	}
	m.revoked(context.Background(), e)
}

// DenyAccessToken revokes one access token until its expiry: durable and
// on the feed before it returns, refused on this node at once.
func (m *Manager) DenyAccessToken(ctx context.Context, jti, userID string, expires time.Time, reason string) error {
	err := m.st.DenyAccessToken(ctx, jti, userID, expires, m.now(), reason)
	// Deny here even on error: the denial may have committed, and denying
	// a token its owner asked to revoke is never wrong.
	m.deny(jti, expires.UnixNano())
	m.signal()
	if err != nil {
		return fmt.Errorf("session: deny access token: %w", err)
	}
	return nil
}

func (m *Manager) deny(jti string, exp int64) {
	m.deniedMu.Lock()
	m.denied[jti] = exp
	m.deniedMu.Unlock()
}

// AccessTokenDenied reports whether the access token jti was revoked. While
// the feed is stale it first catches up, and answers true (deny) if it
// cannot: a revocation made elsewhere must not be missed because the feed
// poller is failing.
//
// Denials live only in memory and on the feed, so a manager that has not
// loaded the feed yet (Start) does so first, and denies if it cannot.
func (m *Manager) AccessTokenDenied(jti string) bool {
	if !m.following.Load() || !m.cacheTrusted() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := m.Start(ctx)
		if err == nil {
			err = m.catchUp(ctx)
		}
		cancel()
		if err != nil {
			return true
		}
	}
	m.deniedMu.RLock()
	exp, ok := m.denied[jti]
	m.deniedMu.RUnlock()
	// Kept past exp by the verifiers' clock-skew leeway, during which an
	// expired token would otherwise verify again.
	return ok && m.now().UnixNano() < exp+int64(DenyMargin)
}

// DenyMargin keeps a denial beyond its token's expiry: at least the
// verifiers' leeway (accesstoken's default 30 s).
const DenyMargin = time.Minute

// sweepDenied drops denials of tokens that have expired, at most once a minute.
func (m *Manager) sweepDenied() {
	now := m.now().UnixNano()
	m.deniedMu.Lock()
	defer m.deniedMu.Unlock()
	if now-m.deniedSweep < int64(time.Minute) {
		return
	}
	m.deniedSweep = now
	for jti, exp := range m.denied {
		if exp+int64(DenyMargin) <= now {
			delete(m.denied, jti)
		}
	}
}

// distrustCache makes validations read the store until the next feed read,
// after a revocation whose outcome is unknown (it may have committed).
func (m *Manager) distrustCache() {
	if m.following.Load() {
		m.lastPoll.Store(0)
	}
}

// CacheLen returns the number of sessions cached on this node.
func (m *Manager) CacheLen() int { return m.cache.len() }

// cacheTrusted reports whether the revocation feed was read recently enough
// for cached entries to be believed. Before Run starts following, only
// this node's own revocations are known, which is exact for a single process.
func (m *Manager) cacheTrusted() bool {
	if !m.following.Load() {
		return true
	}
	stale := max(5*m.cfg.RevocationPoll, 3*time.Second)
	return time.Since(time.Unix(0, m.lastPoll.Load())) < stale
}

// Start loads what the revocation feed already holds: the cursor, and the
// access tokens denied until they expire. Call it before serving requests:
// until it returns, this process knows only its own revocations, so a
// token another process (or this one before a restart) denied would pass.
// Run calls it if it has not been called.
func (m *Manager) Start(ctx context.Context) error {
	if err := m.lockFollow(ctx); err != nil {
		return err
	}
	defer m.unlockFollow()
	if m.following.Load() {
		return nil
	}
	seq, err := m.st.LastRevocationSeq(ctx)
	if err != nil {
		return fmt.Errorf("session: follow revocations: %w", err)
	}
	// Denials older than the cursor still matter until their tokens expire,
	// and DenyMargin beyond: verifiers accept a token for their leeway
	// past exp.
	expired := m.now().Add(-DenyMargin)
	active, err := m.st.ActiveRevocations(ctx, expired, expired)
	if err != nil {
		return fmt.Errorf("session: load denied access tokens: %w", err)
	}
	m.cursor.Store(seq)
	for _, r := range active {
		if r.JTI != "" && r.Seq <= seq {
			m.deny(r.JTI, r.ExpiresAt.UnixNano())
		}
	}
	m.lastPoll.Store(time.Now().UnixNano())
	m.following.Store(true)
	// Sessions cached before the cursor was read may have been revoked in
	// between; start from a clean cache.
	m.cache.evictAll()
	return nil
}

// Run follows the revocation feed and flushes last-seen times until ctx
// ends, then flushes once more. Revocations committed by another process
// are honoured here within one RevocationPoll.
func (m *Manager) Run(ctx context.Context) error {
	if err := m.Start(ctx); err != nil {
		return err
	}

	poll := time.NewTicker(m.cfg.RevocationPoll)
	defer poll.Stop()
	flushEvery := min(m.cfg.TouchInterval, 5*time.Second)
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return m.FlushAll(fctx)
		case <-poll.C:
			if err := m.Follow(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("revocation feed unreadable; cached sessions are not trusted until it recovers", "err", err)
			}
		case <-flush.C:
			if err := m.FlushTouches(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("last-seen flush failed; will retry", "err", err)
			}
		}
	}
}

// Follow reads the revocation feed once and evicts what it names.
func (m *Manager) Follow(ctx context.Context) error {
	if err := m.lockFollow(ctx); err != nil {
		return err
	}
	defer m.unlockFollow()
	return m.follow(ctx)
}

func (m *Manager) lockFollow(ctx context.Context) error {
	select {
	case m.followSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("session: waiting for the feed: %w", ctx.Err())
	}
}

func (m *Manager) unlockFollow() { <-m.followSem }

// catchUp reads the feed unless another caller has just done so.
func (m *Manager) catchUp(ctx context.Context) error {
	if err := m.lockFollow(ctx); err != nil {
		return err
	}
	defer m.unlockFollow()
	if m.cacheTrusted() {
		return nil
	}
	return m.follow(ctx)
}

func (m *Manager) follow(ctx context.Context) error {
	for {
		revs, err := m.st.Revocations(ctx, m.cursor.Load(), 1000)
		if err != nil {
			return err
		}
		if len(revs) > 0 {
			var ids []string
			for _, r := range revs {
				if r.JTI != "" {
					m.deny(r.JTI, r.ExpiresAt.UnixNano())
				} else {
					ids = append(ids, r.SessionID)
				}
			}
			m.cache.evict(ids...)
			m.cursor.Store(revs[len(revs)-1].Seq)
			m.signal()
		}
		if len(revs) < 1000 {
			m.lastPoll.Store(time.Now().UnixNano())
			m.sweepDenied()
			return nil
		}
	}
}

// CSRFToken derives the session's CSRF token from its session token, so it
// needs no storage and dies with the session. HMAC keyed by the secret token
// means the CSRF token reveals nothing about it.
func CSRFToken(sessionToken string) string {
	mac := hmac.New(sha256.New, []byte(sessionToken))
	mac.Write([]byte("tessera/csrf/v1"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// CheckCSRF reports, in constant time, whether presented is the CSRF token
// of sessionToken.
func CheckCSRF(sessionToken, presented string) bool {
	want := CSRFToken(sessionToken)
	return hmac.Equal([]byte(want), []byte(presented))
}
