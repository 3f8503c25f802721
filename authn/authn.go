package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/throttle"
)

// Errors callers branch on.
var (
	// ErrInvalidCredentials covers an unknown user and a wrong password alike.
	ErrInvalidCredentials = errors.New("authn: invalid username or password")
	ErrUsernameTaken      = errors.New("authn: username taken")
	ErrInvalidUsername    = errors.New("authn: invalid username")
	ErrUserNotFound       = errors.New("authn: user not found")
	// ErrAccountDisabled: the password was right but an administrator
	// disabled the account. Said only after the password is accepted, so
	// it reveals nothing to someone without it.
	ErrAccountDisabled = errors.New("authn: account disabled")
	// ErrPasswordChangeRequired: the password was right but an
	// administrator's reset requires a new one before any session starts.
	// The error is a *PasswordChangeRequiredError.
	ErrPasswordChangeRequired = errors.New("authn: password change required")
)

// PasswordChangeRequiredError is ErrPasswordChangeRequired for one user, so
// the login flow can set the new password the client sent with the login.
type PasswordChangeRequiredError struct{ UserID string }

func (e *PasswordChangeRequiredError) Error() string { return ErrPasswordChangeRequired.Error() }
func (e *PasswordChangeRequiredError) Is(target error) bool {
	return target == ErrPasswordChangeRequired
}

// ThrottledError says a login was refused unhashed because of too many
// recent failures.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("authn: too many failed attempts, retry in %v", e.RetryAfter)
}

// Store is what authentication needs from storage.
type Store interface {
	CreateUser(ctx context.Context, u store.User) error
	UserByID(ctx context.Context, id string) (store.User, error)
	UserByUsername(ctx context.Context, username string) (store.User, error)
	SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error
	UpgradePasswordHash(ctx context.Context, userID, oldHash, newHash string) error
}

// Hasher hashes and checks passwords; *password.Hasher is the implementation.
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	Verify(ctx context.Context, encoded, pw string) (ok, needsRehash bool, err error)
	VerifyDummy(ctx context.Context, pw string) bool
}

// Limits are the failure budgets for login throttling.
type Limits struct {
	PerIPBurst         int
	PerIPRefill        time.Duration
	PerAccountIPBurst  int
	PerAccountIPRefill time.Duration
	PerAccountBurst    int
	PerAccountRefill   time.Duration
}

// Limiter is one login throttle: a token bucket per key that only failed
// attempts drain (Allow admits while a token is left, taking none; Fail
// takes one once an attempt failed, into debt if need be).
// *throttle.Limiter keeps the buckets in this process; a shared one
// (Redis) keeps them for every node. Implementations must be safe for concurrent use and must answer
// even when a shared backend is down (by falling back to their own
// limits), since a login is never waved through unthrottled.
type Limiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration)
	Fail(ctx context.Context, key string)
}

// Shared is login state kept for a cluster of nodes instead of one
// process. A nil field keeps this process's own.
type Shared struct {
	PerIP, PerAccountIP, PerAccount Limiter
	Known                           KnownAddresses
}

// Authenticator checks passwords. Safe for concurrent use.
type Authenticator struct {
	st     Store
	hasher Hasher
	policy password.Policy
	now    func() time.Time
	log    *slog.Logger
	ev     event.Sink

	perIP, perAccountIP, perAccount Limiter
	known                           KnownAddresses
}

// New returns an authenticator. now is the clock (nil: time.Now). ev
// receives event.LoginFailed for the logins it refuses (nil: none);
// event.LoginSucceeded is the login flow's, once a session started.
func New(st Store, h Hasher, p password.Policy, l Limits, now func() time.Time, log *slog.Logger, ev event.Sink) *Authenticator {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authenticator{
		st: st, hasher: h, policy: p, now: now, log: log, ev: ev,
		perIP:        throttle.New(l.PerIPBurst, l.PerIPRefill, now),
		perAccountIP: throttle.New(l.PerAccountIPBurst, l.PerAccountIPRefill, now),
		perAccount:   throttle.New(l.PerAccountBurst, l.PerAccountRefill, now),
		known:        NewMemoryKnown(now),
	}
}

// Share replaces this process's throttles and known addresses with those of
// s that are not nil, so that every node counts the same failures. Call it
// before the first login.
func (a *Authenticator) Share(s Shared) {
	if s.PerIP != nil {
		a.perIP = s.PerIP
	}
	if s.PerAccountIP != nil {
		a.perAccountIP = s.PerAccountIP
	}
	if s.PerAccount != nil {
		a.perAccount = s.PerAccount
	}
	if s.Known != nil {
		a.known = s.Known
	}
}

// NormalizeUsername returns the canonical form of a username: trimmed and
// lower-cased, 1 to 64 characters of [a-z0-9._@+-]. A small alphabet rules
// out look-alike Unicode names and makes names safe in every log and header.
func NormalizeUsername(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 0 || len(s) > 64 {
		return "", ErrInvalidUsername
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("._@+-", c) >= 0) {
			return "", ErrInvalidUsername
		}
	}
	return s, nil
}

// CreateUser adds an account. A password the policy refuses gives a
// *password.PolicyError.
func (a *Authenticator) CreateUser(ctx context.Context, username, pw string) (store.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return store.User{}, err
	}
	if err := a.policy.Check(name, pw); err != nil {
		return store.User{}, err
	}
	hash, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		return store.User{}, fmt.Errorf("authn: hash: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return store.User{}, fmt.Errorf("authn: id: %w", err)
	}
	now := a.now().UTC().Truncate(time.Microsecond)
	u := store.User{ID: id.String(), Username: name, PasswordHash: hash, CreatedAt: now, PasswordChangedAt: now}
	if err := a.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.User{}, ErrUsernameTaken
		}
		return store.User{}, fmt.Errorf("authn: create user: %w", err)
	}
	return u, nil
}

// Login checks a username and password from a client at ip. Every failure
// that could reveal whether the account exists is ErrInvalidCredentials, and
// an unknown user costs the same hash as a wrong password. Attempts are
// throttled per IP, per account and IP, and per account; only failures
// count, so a user who types the right password is never slowed by their
// own logins.
func (a *Authenticator) Login(ctx context.Context, username, pw string, ip netip.Addr) (store.User, error) {
	u, err := a.login(ctx, username, pw, ip)
	// Only failures: an accepted password is not yet a login (the caller
	// publishes event.LoginSucceeded once it has started a session).
	if a.ev != nil && err != nil {
		e := event.Event{At: a.now().UTC(), IP: ip, UserID: u.ID}
		var te *ThrottledError
		switch {
		case errors.As(err, &te):
			e.Kind, e.Reason, e.RetryAfter = event.LoginFailed, event.ReasonThrottled, te.RetryAfter
		case errors.Is(err, ErrInvalidCredentials):
			e.Kind, e.Reason = event.LoginFailed, event.ReasonBadCredentials
		case errors.Is(err, ErrAccountDisabled):
			e.Kind, e.Reason = event.LoginFailed, event.ReasonDisabled
		case errors.Is(err, ErrPasswordChangeRequired):
			e.Kind, e.Reason = event.LoginFailed, event.ReasonMustChange
		default:
			e.Kind, e.Reason = event.LoginFailed, event.ReasonError
		}
		a.ev.Publish(ctx, e)
	}
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

func (a *Authenticator) login(ctx context.Context, username, pw string, ip netip.Addr) (store.User, error) {
	name, nameErr := NormalizeUsername(username)
	acct := name
	if nameErr != nil {
		// Still throttle and hash: an invalid name must look like an unknown one.
		acct = "invalid:" + strings.ToLower(truncate(username, 64))
	}
	ipKey := throttle.IPKey(ip)
	failed, err := a.admit(ctx, ipKey, acct, a.known.Known(ctx, acct, ipKey))
	if err != nil {
		return store.User{}, err
	}
	var u store.User
	if nameErr == nil {
		u, err = a.st.UserByUsername(ctx, name)
	} else {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		a.hasher.VerifyDummy(ctx, pw)
		failed()
		return store.User{}, ErrInvalidCredentials
	}
	if err != nil {
		return store.User{}, fmt.Errorf("authn: login: %w", err)
	}
	ok, rehash, err := a.hasher.Verify(ctx, u.PasswordHash, pw)
	if err != nil {
		return store.User{}, fmt.Errorf("authn: login: %w", err)
	}
	if !ok {
		failed()
		return u, ErrInvalidCredentials // u for the event only; Login drops it
	}
	a.known.Remember(ctx, acct, ipKey)
	if rehash {
		a.rehash(ctx, u, pw)
	}
	// After the password, not before: only someone who knows it learns
	// the account's state. CreateSession refuses a disabled user too, for a
	// login that passed here just before the account was disabled.
	if !u.DisabledAt.IsZero() || !u.DeletedAt.IsZero() {
		return u, ErrAccountDisabled
	}
	if u.MustChangePassword {
		return u, &PasswordChangeRequiredError{UserID: u.ID}
	}
	return u, nil
}

// admit lets an attempt proceed if every bucket it counts against still
// holds a token, taking none: failed, called once the attempt is known to
// have failed, takes one from each. So only failures drain the buckets,
// and correct logins in flight together (many users behind one NAT
// address) never use up each other's budget; an attempt that ends in an
// error (store, busy hasher) counts for nothing. A client address that
// has logged into the account before skips the account-wide bucket:
// otherwise an attacker spread over many addresses could keep that bucket
// empty and lock the real user out for as long as the attack lasts. The
// per-IP and per-account-and-IP buckets still apply to it.
func (a *Authenticator) admit(ctx context.Context, ipKey, acct string, knownClient bool) (failed func(), err error) {
	type bucket struct {
		l   Limiter
		key string
	}
	bs := []bucket{{a.perIP, ipKey}, {a.perAccountIP, acct + "|" + ipKey}}
	if !knownClient {
		bs = append(bs, bucket{a.perAccount, acct})
	}
	for _, b := range bs {
		if ok, wait := b.l.Allow(ctx, b.key); !ok {
			return nil, &ThrottledError{RetryAfter: wait}
		}
	}
	return func() {
		// Not the request's context: a client gone after a wrong
		// password must still have its failure counted.
		ctx := context.WithoutCancel(ctx)
		for _, b := range bs {
			b.l.Fail(ctx, b.key)
		}
	}, nil
}

// rehash upgrades a hash made with older parameters. Failure is logged, not
// fatal: the login itself succeeded.
func (a *Authenticator) rehash(ctx context.Context, u store.User, pw string) {
	h, err := a.hasher.Hash(ctx, pw)
	if err == nil {
		// Conditional: if the password changed meanwhile, keep the change.
		err = a.st.UpgradePasswordHash(ctx, u.ID, u.PasswordHash, h)
	}
	if err != nil && !errors.Is(err, store.ErrStale) {
		a.log.Warn("password rehash failed", "user_id", u.ID, "err", err)
	}
}

// ChangePassword replaces the user's password after checking the current
// one. The caller revokes the user's other sessions.
func (a *Authenticator) ChangePassword(ctx context.Context, userID, current, next string, ip netip.Addr) error {
	u, err := a.st.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUserNotFound
	}
	if err != nil {
		return fmt.Errorf("authn: change password: %w", err)
	}
	ipKey := throttle.IPKey(ip)
	failed, err := a.admit(ctx, ipKey, u.Username, a.known.Known(ctx, u.Username, ipKey))
	if err != nil {
		return err
	}
	ok, _, err := a.hasher.Verify(ctx, u.PasswordHash, current)
	if err != nil {
		return fmt.Errorf("authn: change password: %w", err)
	}
	if !ok {
		failed()
		return ErrInvalidCredentials
	}
	return a.SetPassword(ctx, u, next)
}

// SetPassword sets a new password without checking the old one.
func (a *Authenticator) SetPassword(ctx context.Context, u store.User, next string) error {
	h, err := a.NewHash(ctx, u.Username, next)
	if err != nil {
		return err
	}
	if err := a.st.SetPasswordHash(ctx, u.ID, h, a.now().UTC().Truncate(time.Microsecond)); err != nil {
		return fmt.Errorf("authn: set password: %w", err)
	}
	return nil
}

// NewHash checks a new password of the user username against the policy
// (a *password.PolicyError if refused) and hashes it.
func (a *Authenticator) NewHash(ctx context.Context, username, pw string) (string, error) {
	if err := a.policy.Check(username, pw); err != nil {
		return "", err
	}
	h, err := a.hasher.Hash(ctx, pw)
	if err != nil {
		return "", fmt.Errorf("authn: hash: %w", err)
	}
	return h, nil
}

// ErrCannotClear: a login throttle in use cannot forget an account's
// failures (it has no Reset).
var ErrCannotClear = errors.New("authn: this throttle cannot clear an account")

// resetter is a throttle that can forget failures (*throttle.Limiter; a
// shared limiter offers the same to clear every node at once).
type resetter interface {
	Reset(ctx context.Context, key string) error
	ResetPrefix(ctx context.Context, prefix string) error
}

// ClearThrottles forgets the failed logins counted against the account
// username (normalised), from every address: an administrator's answer
// to a user locked out by someone else's guessing. Per-IP budgets stay:
// they belong to the address, not the account.
func (a *Authenticator) ClearThrottles(ctx context.Context, username string) error {
	acct, ok1 := any(a.perAccount).(resetter)
	acctIP, ok2 := any(a.perAccountIP).(resetter)
	if !ok1 || !ok2 {
		return ErrCannotClear
	}
	if err := acct.Reset(ctx, username); err != nil {
		return fmt.Errorf("authn: clear throttles: %w", err)
	}
	if err := acctIP.ResetPrefix(ctx, username+"|"); err != nil {
		return fmt.Errorf("authn: clear throttles: %w", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
