package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("account: no such user")
	// ErrDeleted: the user was deleted; only its id remains.
	ErrDeleted = errors.New("account: user deleted")
	// ErrBadCursor: a page cursor this package did not hand out.
	ErrBadCursor = errors.New("account: invalid cursor")
	// ErrNoChange: a Change that changes nothing.
	ErrNoChange = errors.New("account: nothing to change")
)

// Revocation reasons, as recorded on the sessions and the feed.
const (
	ReasonDisabled      = "user_disabled"
	ReasonDeleted       = "user_deleted"
	ReasonPasswordReset = "password_reset"
)

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Store is what the lifecycle needs from storage.
type Store interface {
	UserByID(ctx context.Context, id string) (store.User, error)
	ListUsersPage(ctx context.Context, q store.UserQuery) ([]store.User, error)
	UpdateUser(ctx context.Context, userID string, u store.UserUpdate) (store.User, []string, error)
}

// Sessions drops revoked sessions from this node's cache and wakes the
// feed's followers at once (*session.Manager); other nodes evict them
// when they read the feed entries the store wrote.
type Sessions interface {
	Forget(ctx context.Context, reason string, ids ...string)
}

// Passwords checks and hashes a new password and clears an account's
// login throttles (*authn.Authenticator).
//
// ClearThrottles acts on the throttles this process keeps; with shared
// throttles (Redis) the same call reaches every node.
type Passwords interface {
	NewHash(ctx context.Context, username, pw string) (string, error)
	ClearThrottles(ctx context.Context, username string) error
}

// Service runs the lifecycle. Safe for concurrent use.
type Service struct {
	st  Store
	ss  Sessions
	pw  Passwords
	now func() time.Time
}

// New returns a service. now is the clock (nil: time.Now).
func New(st Store, ss Sessions, pw Passwords, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, ss: ss, pw: pw, now: now}
}

// Query selects a page of users.
type Query struct {
	Cursor   string // from the previous Page; "" for the first
	Limit    int    // 0: DefaultLimit; capped at MaxLimit
	Prefix   string // usernames starting with it
	Disabled *bool  // only disabled (true) or enabled (false) users
	Deleted  bool   // include deleted users
}

// Page is one page of users; Next is the cursor of the next page, "" at the end.
type Page struct {
	Users []store.User
	Next  string
}

// List returns one page of users in creation order (UUIDv7 ids).
func (s *Service) List(ctx context.Context, q Query) (Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	// The cursor is the last id of the page before: opaque to clients,
	// but checked so a mangled one is an error rather than a silent
	// restart from somewhere else.
	if len(q.Cursor) > 64 {
		return Page{}, ErrBadCursor
	}
	us, err := s.st.ListUsersPage(ctx, store.UserQuery{After: q.Cursor, Limit: limit + 1, Prefix: q.Prefix, Disabled: q.Disabled, Deleted: q.Deleted})
	if err != nil {
		return Page{}, fmt.Errorf("account: list: %w", err)
	}
	p := Page{Users: us}
	if len(us) > limit {
		p.Users = us[:limit]
		p.Next = us[limit-1].ID
	}
	return p, nil
}

// Get returns one user, deleted ones included (their ids stay for audit).
func (s *Service) Get(ctx context.Context, id string) (store.User, error) {
	u, err := s.st.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrNotFound
	}
	if err != nil {
		return store.User{}, fmt.Errorf("account: get: %w", err)
	}
	return u, nil
}

// Result is a lifecycle change: the user as it now is and how many
// sessions it ended.
type Result struct {
	User    store.User
	Revoked int
}

// Disable stops the user logging in or refreshing, and ends every session
// at once: one transaction marks the account and revokes the sessions
// (their refresh-token families with them), with feed entries that tell
// every node. Disabling a disabled user changes nothing but ends any
// session that slipped in.
func (s *Service) Disable(ctx context.Context, id string) (Result, error) {
	return s.Update(ctx, id, Change{Disabled: new(true)})
}

// Enable lets a disabled user log in again. Ended sessions stay ended.
func (s *Service) Enable(ctx context.Context, id string) (Result, error) {
	return s.Update(ctx, id, Change{Disabled: new(false)})
}

// ResetPassword sets a password without the old one and ends every
// session (whoever knew the old password is out). With mustChange the next
// login must set another password before it gets a session.
func (s *Service) ResetPassword(ctx context.Context, id, pw string, mustChange bool) (Result, error) {
	return s.Update(ctx, id, Change{Password: &pw, MustChangePassword: mustChange})
}

// Change is an administrator's edit of one user; nil fields stay as they
// are.
type Change struct {
	Disabled           *bool   // disable (true) or enable (false)
	Password           *string // a new password, checked against the policy
	MustChangePassword bool    // with Password: the next login must change it
}

// Update applies c as one decision: the password, the disabled state and
// the end of the sessions are written in one transaction, so a failure of
// any part leaves the user as it was (never a new password on an account
// that was to be disabled but is not). The sessions end with
// ReasonDisabled when c disables, else ReasonPasswordReset when it sets a
// password; enabling alone ends none.
func (s *Service) Update(ctx context.Context, id string, c Change) (Result, error) {
	var up store.UserUpdate
	if c.Password != nil {
		u, err := s.Get(ctx, id)
		if err != nil {
			return Result{}, err
		}
		if !u.DeletedAt.IsZero() {
			return Result{}, ErrDeleted // before paying for a hash
		}
		h, err := s.pw.NewHash(ctx, u.Username, *c.Password)
		if err != nil {
			return Result{}, err // *password.PolicyError, or the hasher's
		}
		up.PasswordHash, up.MustChangePassword, up.RevokeReason = h, c.MustChangePassword, ReasonPasswordReset
	}
	switch {
	case c.Disabled == nil:
	case *c.Disabled:
		up.Disable, up.RevokeReason = true, ReasonDisabled
	default:
		up.Enable = true
	}
	if !up.Disable && !up.Enable && up.PasswordHash == "" {
		return Result{}, ErrNoChange
	}
	return s.apply(ctx, id, up)
}

// Delete erases the user: every session and token revoked, the username
// replaced by a tombstone (freeing the name), the password hash removed,
// the sessions' IP addresses and user agents blanked. The id stays, so the
// audit trail (events, the feed) keeps meaning something without naming
// anyone. The login throttles keyed by the old name are cleared too.
func (s *Service) Delete(ctx context.Context, id string) (Result, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return Result{}, err
	}
	// ':' is outside the username alphabet (authn.NormalizeUsername): no
	// login can ever name a tombstone.
	res, err := s.apply(ctx, id, store.UserUpdate{Erase: true, Tombstone: "deleted:" + id, RevokeReason: ReasonDeleted})
	if err == nil {
		// Best effort: the name is gone either way, and its buckets refill.
		_ = s.pw.ClearThrottles(ctx, u.Username)
	}
	return res, err
}

// ClearThrottles forgets the failed logins counted against the user, so a
// user locked out by someone guessing at their account can log in at once.
func (s *Service) ClearThrottles(ctx context.Context, id string) (store.User, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return store.User{}, err
	}
	if !u.DeletedAt.IsZero() {
		return store.User{}, ErrDeleted
	}
	if err := s.pw.ClearThrottles(ctx, u.Username); err != nil {
		return store.User{}, fmt.Errorf("account: clear throttles: %w", err)
	}
	return u, nil
}

func (s *Service) apply(ctx context.Context, id string, up store.UserUpdate) (Result, error) {
	up.At = s.now().UTC().Truncate(time.Microsecond)
	u, ids, err := s.st.UpdateUser(ctx, id, up)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Result{}, ErrNotFound
	case errors.Is(err, store.ErrStale):
		return Result{}, ErrDeleted
	case err != nil:
		return Result{}, fmt.Errorf("account: update user %s: %w", id, err)
	}
	if len(ids) > 0 && s.ss != nil {
		s.ss.Forget(ctx, up.RevokeReason, ids...)
	}
	return Result{User: u, Revoked: len(ids)}, nil
}
