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
	"time"

	"github.com/google/uuid"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/revocation"
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
	// ReasonRelogin: a login presented this session (ASVS 5.0 7.2.4).
	ReasonRelogin = "relogin"
	// ReasonRenewed: a privilege change (step-up, a second factor added)
	// replaced this session with a fresh one.
	ReasonRenewed = "renewed"
	// ReasonMFAReset: the user's last second factor was removed, or an
	// administrator reset them.
	ReasonMFAReset = "mfa_reset"
)

// Store is what the engine needs from storage: its own records, and the
// revocation feed its follower reads.
type Store interface {
	revocation.Store
	UserByID(ctx context.Context, id string) (store.User, error)
	CreateSession(ctx context.Context, s store.Session, opt store.CreateOptions) ([]string, error)
	SessionByHash(ctx context.Context, h token.Hash) (store.Session, error)
	SessionByID(ctx context.Context, id string) (store.Session, error)
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error)
	TouchSessions(ctx context.Context, seen map[string]time.Time) error
	RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, error)
	RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) ([]string, error)
	MarkStepUp(ctx context.Context, id string, at time.Time, reason string) (store.Session, error)
}

// Config is the lifecycle policy the engine enforces.
type Config struct {
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	MaxPerUser      int           // 0: no cap
	TouchInterval   time.Duration // how stale a stored last-seen may get
	RevocationPoll  time.Duration // feed polling period: the cross-process revocation bound
	CacheSize       int           // 0: no cache, every validation reads the store
	// Notifier carries revocations between processes (see
	// revocation.Notifier); nil means in-process only, where other
	// processes' revocations arrive within RevocationPoll.
	Notifier revocation.Notifier
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
	// Via is set when the credential is not presented by its holder
	// (event.ViaIntrospection, event.ViaRevocation): IP and UserAgent are
	// then the asking client's, which detection must not compare with
	// the holder's.
	Via string
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
	// fol keeps the cache in step with the revocation feed, and tells
	// other processes of the revocations this one commits.
	fol *revocation.Follower

	touchMu sync.Mutex
	touches map[string]time.Time
}

// New returns a manager over st.
func New(st Store, cfg Config) *Manager {
	m := &Manager{st: st, cfg: cfg, ev: cfg.Events, now: cfg.Now, log: cfg.Logger, touches: map[string]time.Time{}}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.cache = newCache(cfg.CacheSize)
	m.fol = revocation.NewFollower(st, evictor{m.cache}, revocation.Config{
		Poll: cfg.RevocationPoll, Notifier: cfg.Notifier, Now: m.now, Logger: m.log,
	})
	return m
}

// Follower returns the node's revocation-feed follower: the access-token
// denylist, and the Notifier a feed long poll waits on.
func (m *Manager) Follower() *revocation.Follower { return m.fol }

// evictor lets the follower evict from the cache.
type evictor struct{ c *cache }

func (e evictor) Evict(ids ...string) { e.c.evict(ids...) }
func (e evictor) EvictAll()           { e.c.evictAll() }

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
	// StepUpRequired: the session was marked (RequireStepUp) and must
	// re-authenticate before its next sensitive use. AuthTime stays what
	// it was; VouchedAuthTime is what the session may still claim.
	StepUpRequired bool
	// CSRFToken is the session's CSRF token (see CSRFToken), kept so
	// whoami need not recompute it.
	CSRFToken string
}

// VouchedAuthTime is the auth_time the session may still vouch for to
// others (access tokens, introspection, forward-auth rules): see Vouched.
func (s Session) VouchedAuthTime() time.Time { return Vouched(s.AuthTime, s.StepUpRequired) }

// Vouched is the auth_time a session authenticated at authTime may vouch
// for to others: authTime, or zero once the session is marked for a
// step-up (RequireStepUp). Zero reads as "unknown", which a verifier
// applying a max_age refuses (RFC 9470 §3), so a marked session's
// credentials pass only where recency does not matter, and its owner
// learns why from the challenge.
func Vouched(authTime time.Time, stepUpRequired bool) time.Time {
	if stepUpRequired {
		return time.Time{}
	}
	return authTime
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
		stepUp:   s.StepUpRequired(),
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
		ID:             e.id,
		UserID:         e.userID,
		Username:       e.username,
		CreatedAt:      time.Unix(0, e.created).UTC(),
		AuthTime:       time.Unix(0, e.authTime).UTC(),
		ExpiresAt:      time.Unix(0, e.expires).UTC(),
		IdleExpiresAt:  idleExpiry(e.expires, seen, e.idle),
		LastSeenAt:     time.Unix(0, seen).UTC(),
		AMR:            e.amr,
		AAL:            e.aal,
		StepUpRequired: e.stepUp,
		CSRFToken:      e.csrf,
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
	if err != nil {
		return Session{}, err // s names an ended session only for the event
	}
	return s, nil
}

func (m *Manager) validate(ctx context.Context, raw string, now int64) (Session, error) {
	tok, err := token.Parse(token.Session, raw)
	if err != nil {
		return Session{}, ErrInvalid
	}
	h := tok.Hash()
	if m.fol.Trusted() {
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
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

// validated publishes event.SessionValidated for a validation's outcome.
// A store that could not answer says nothing about the credential: no event.
func (m *Manager) validated(ctx context.Context, u Use, now int64, s Session, err error) {
	e := event.Event{Kind: event.SessionValidated, At: u.At, IP: u.IP, UserAgent: u.UserAgent, UserID: s.UserID, SessionID: s.ID, Via: u.Via}
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
	if m.fol.Trusted() {
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
// revocation happened since gen was read. An ended session's ID and user
// come back with ErrRevoked or ErrExpired, for the validation event only:
// a revoked token presented again names its victim (detection).
func (m *Manager) admit(ctx context.Context, s store.Session, csrf string, now int64, gen uint64) (Session, error) {
	if s.Revoked() {
		return Session{ID: s.ID, UserID: s.UserID}, ErrRevoked
	}
	if now >= s.ExpiresAt.UnixNano() || now >= s.LastSeenAt.UnixNano()+int64(s.IdleTimeout) {
		return Session{ID: s.ID, UserID: s.UserID}, ErrExpired
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
		if !s.Live(now) {
			continue // idle-expired as of this node's last-seen time
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
		m.fol.Distrust()
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
	// Long polls and other processes first: subscribers may take their time.
	m.fol.Notify(ctx)
	e.Kind, e.At = event.SessionRevoked, m.now().UTC()
	m.publish(ctx, e)
}

func (m *Manager) publish(ctx context.Context, e event.Event) {
	if m.ev != nil {
		m.ev.Publish(ctx, e)
	}
}

// Forget drops sessions from this node's cache at once: for revocations
// committed by another component inside its own transaction (refresh-token
// reuse), which would otherwise reach this node only through the feed.
// ctx is the request's: the SessionRevoked event names who caused it.
func (m *Manager) Forget(ctx context.Context, reason string, ids ...string) {
	m.cache.evict(ids...)
	e := event.Event{Reason: reason, Count: len(ids)}
	if len(ids) == 1 {
		e.SessionID = ids[0]
	}
	m.revoked(ctx, e)
}

// CacheLen returns the number of sessions cached on this node.
func (m *Manager) CacheLen() int { return m.cache.len() }

// Start loads what the revocation feed already holds (see
// revocation.Follower.Start). Call it before serving requests.
func (m *Manager) Start(ctx context.Context) error { return m.fol.Start(ctx) }

// Follow reads the revocation feed once and evicts what it names.
func (m *Manager) Follow(ctx context.Context) error { return m.fol.Follow(ctx) }

// Run follows the revocation feed and flushes last-seen times until ctx
// ends, then flushes once more. Revocations committed by another process
// are honoured here within one RevocationPoll, sooner when notified.
func (m *Manager) Run(ctx context.Context) error {
	if err := m.fol.Start(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.fol.Run(ctx) // Start has succeeded: it returns only when ctx ends
	}()
	defer wg.Wait()

	flushEvery := min(m.cfg.TouchInterval, 5*time.Second)
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return m.FlushAll(fctx)
		case <-flush.C:
			if err := m.FlushTouches(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("last-seen flush failed; will retry", "err", err)
			}
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

// Recheck reads session cur (just validated) from the store again,
// bypassing this node's cache, and returns it with the store's step-up
// mark: for the rare uses that must not act on a copy older than a mark
// made a moment ago — detection acts off the request path, and a mark
// made on another node reaches this one through the feed. A session
// revoked meanwhile is ErrRevoked, one gone ErrInvalid; a store that
// cannot answer is ErrUnavailable. A mark this node had not seen yet also
// drops its cached copy.
func (m *Manager) Recheck(ctx context.Context, cur Session) (Session, error) {
	s, err := m.st.SessionByID(ctx, cur.ID)
	if errors.Is(err, store.ErrNotFound) {
		return Session{}, ErrInvalid
	}
	if err != nil {
		return Session{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if s.Revoked() {
		m.cache.evict(cur.ID)
		return Session{}, ErrRevoked
	}
	if s.StepUpRequired() && !cur.StepUpRequired {
		m.cache.evict(cur.ID)
	}
	cur.StepUpRequired = s.StepUpRequired()
	return cur, nil
}

// RequireStepUp marks session id so that it must re-authenticate
// (POST /v1/reauth) before its next sensitive use, on every node: the
// detect package's step_up action. The mark is durable when it returns
// nil, refused on this node at once, and on the others as soon as they
// read the feed entry that comes with it (notified, or within
// RevocationPoll): their caches drop the session and read it again. A
// session already marked stays so; an unknown one is ErrNotFound, a
// revoked one ErrRevoked. Re-authentication renews the session into one
// without the mark (RFC 9470 §3: the client retries after a step-up).
func (m *Manager) RequireStepUp(ctx context.Context, id, reason string) error {
	at := m.now().UTC().Truncate(time.Microsecond)
	s, err := m.st.MarkStepUp(ctx, id, at, reason)
	// Evict even on error, as Revoke does: the mark may have committed.
	m.cache.evict(id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrStale):
		return ErrRevoked
	case err != nil:
		return fmt.Errorf("session: require step-up: %w", err)
	}
	if s.StepUpAt.Equal(at) {
		// Other nodes first, as for a revocation: they drop the session now
		// rather than at their next poll.
		m.fol.Notify(ctx)
		m.publish(ctx, event.Event{Kind: event.StepUpRequired, At: at, SessionID: id, UserID: s.UserID, Reason: reason})
	}
	return nil
}
