package store

import (
	"context"
	"errors"
	"time"

	"github.com/tessera-auth/tessera/token"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: already exists")
	// ErrStale means a precondition no longer holds: the data changed
	// between the caller's read and its write.
	ErrStale = errors.New("store: precondition no longer holds")
	// ErrCheckIncomplete means a start-up check (Store.Check) ran out of
	// time: no damage found, but not all was looked at.
	ErrCheckIncomplete = errors.New("store: start-up check incomplete")
)

// User is an account that can log in.
type User struct {
	ID                string
	Username          string
	PasswordHash      string // PHC string; never logged
	CreatedAt         time.Time
	PasswordChangedAt time.Time
	// DisabledAt is when the account was disabled; zero while enabled. A
	// disabled account gets no new session (CreateSession: ErrStale).
	DisabledAt time.Time
	// MustChangePassword: the next login must set a new password first.
	MustChangePassword bool
	// DeletedAt is when the account was erased; zero otherwise. An erased
	// account keeps only its id: Username is a tombstone, no password hash.
	DeletedAt time.Time
}

// UserUpdate is one change to an account that Users.UpdateUser applies
// atomically. The account policy (package account) decides it; a backend
// applies exactly these writes, all or none, with no policy of its own.
type UserUpdate struct {
	At time.Time
	// Disable sets DisabledAt to At (unless already set); Enable clears it.
	Disable, Enable bool
	// PasswordHash, if not empty, replaces the hash, moves
	// PasswordChangedAt to At and sets MustChangePassword.
	PasswordHash       string
	MustChangePassword bool
	// Erase replaces the username with Tombstone, removes the password
	// hash, sets DeletedAt and DisabledAt to At, blanks the IP address and
	// user agent of the user's sessions, and deletes the refresh and opaque
	// access tokens of those sessions.
	Erase     bool
	Tombstone string
	// RevokeReason, if not empty, revokes every live session of the user
	// with this reason, feed entries included, as RevokeUserSessions does.
	RevokeReason string
}

// UserQuery selects a page of users for ListUsersPage.
type UserQuery struct {
	// After is the cursor: only users whose ID sorts after it ("" from
	// the start). IDs are UUIDv7, so pages run in creation order.
	After string
	Limit int // at most this many; must be positive
	// Prefix, if set, keeps usernames starting with it.
	Prefix string
	// Disabled, if not nil, keeps disabled (true) or enabled (false) users.
	Disabled *bool
	// Deleted keeps erased users, which are left out otherwise.
	Deleted bool
}

// Session is one server-side login. Every token Tessera issues hangs off one.
// Only the SHA-256 of its token is kept.
type Session struct {
	ID         string
	TokenHash  token.Hash
	UserID     string
	CreatedAt  time.Time
	AuthTime   time.Time // last time the user proved a credential (step-up refreshes it)
	ExpiresAt  time.Time // absolute expiry
	LastSeenAt time.Time
	// IdleTimeout ends the session when unused this long: the session ends
	// at min(ExpiresAt, LastSeenAt+IdleTimeout). Browser sessions and
	// refresh-token sessions have different ones. Must be positive.
	IdleTimeout time.Duration
	IP          string
	UserAgent   string
	AMR         []string // RFC 8176 authentication method references, such as "pwd"
	AAL         int      // NIST authenticator assurance level, 1..3
	RevokedAt   time.Time
	// RevokeReason says why the session ended, for audit and the user's device list.
	RevokeReason string
	// StepUpAt is when the session was marked as needing a step-up
	// (Sessions.MarkStepUp); zero if it is not. A marked session must
	// re-authenticate before its next sensitive use; re-authentication
	// renews it into a session without the mark.
	StepUpAt time.Time
}

// Revoked reports whether the session has been revoked.
func (s *Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// StepUpRequired reports whether the session carries a step-up mark.
func (s *Session) StepUpRequired() bool { return !s.StepUpAt.IsZero() }

// Live reports whether the session is live at now: not revoked, before
// its absolute expiry and within its idle timeout. sqlrow.LiveSession is
// the same rule in SQL.
func (s *Session) Live(now time.Time) bool {
	return !s.Revoked() && now.Before(s.ExpiresAt) && now.Before(s.LastSeenAt.Add(s.IdleTimeout))
}

// Revocation is one entry of the revocation feed: session SessionID, or
// the access token JTI, stopped being valid.
//
// Feed ordering contract, which every backend MUST meet (storetest's
// FeedNeverSkips checks it): a reader that has seen Seq N — as an entry
// from Revocations or ActiveRevocations, or as LastRevocationSeq — never
// later sees a new entry with Seq ≤ N. Followers keep only a cursor, so an
// entry that appears below it is never read, and its revocation is never
// honoured by them. Seq is unique and grows with each entry; gaps are
// allowed. A backend meets the contract either by assigning Seq in commit
// order (SQLite's single writer; a lock taken before numbering and held to
// commit), or by having those reads return only entries below a watermark
// that no in-flight transaction can fall under. A bare sequence (a
// PostgreSQL bigserial) does not: numbers are taken at insert and
// transactions commit in any order, so seq 1 can commit after a reader
// has seen seq 2.
type Revocation struct {
	Seq       int64
	SessionID string // set for a session revocation
	JTI       string // set for an access-token denial
	// KID is set for a signing-key revocation: every token the key signed
	// is refused, and verifiers drop the key (see SigningKeys.RevokeSigningKey).
	KID    string
	UserID string
	At     time.Time
	// ExpiresAt, for a denial, is the token's own expiry; for a key
	// revocation, when no token the key signed can still be accepted and
	// no verifier can still hold the key from a JWKS it cached before the
	// revocation. After it the entry no longer matters.
	ExpiresAt time.Time
	Reason    string
	// EvictOnly marks an entry that revokes nothing: session SessionID
	// changed (a step-up mark), and followers drop their cached copy so
	// their next use reads it again. It shares the feed's numbering and
	// delivery with revocations so that every node hears of it as fast,
	// but it is not a revocation: the public feed (revocation.Feed, GET
	// /v1/revocations) never serves it.
	EvictOnly bool
}

// CreateOptions are the conditions a new session is stored under.
type CreateOptions struct {
	// MaxPerUser caps the user's live sessions (not revoked, neither past
	// ExpiresAt nor idle-expired at the new session's CreatedAt); the least
	// recently seen are revoked with reason "session_limit" in the same
	// transaction and their IDs returned. 0 means no cap.
	MaxPerUser int
	// PasswordChangedAt, if set, must still be the user's PasswordChangedAt,
	// or CreateSession stores nothing and returns ErrStale: a login checked
	// against a password that has since changed must not yield a session.
	PasswordChangedAt time.Time
}

// Users stores accounts.
type Users interface {
	// CreateUser stores u; ErrConflict if the username is taken.
	CreateUser(ctx context.Context, u User) error
	UserByID(ctx context.Context, id string) (User, error)
	// UserByUsername matches the username exactly; callers normalise it first.
	UserByUsername(ctx context.Context, username string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// ListUsersPage returns up to q.Limit users matching q, by ID.
	ListUsersPage(ctx context.Context, q UserQuery) ([]User, error)
	// UpdateUser applies u to the user atomically (see UserUpdate) and
	// returns the user as it now is and the IDs of the sessions it
	// revoked. ErrNotFound if there is no such user; ErrStale if the user
	// has been erased. It MUST be durable when it returns nil.
	UpdateUser(ctx context.Context, userID string, u UserUpdate) (User, []string, error)
	// SetPasswordHash replaces the user's password hash and clears
	// MustChangePassword.
	SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error
	// UpgradePasswordHash replaces the hash only if it is still oldHash
	// (rehashing under new parameters must never undo a password change);
	// ErrStale otherwise. PasswordChangedAt does not move.
	UpgradePasswordHash(ctx context.Context, userID, oldHash, newHash string) error
}

// Sessions stores sessions and the revocation feed. Every method that revokes
// MUST be durable when it returns nil, and MUST append one Revocation per
// session it revoked in the same transaction.
type Sessions interface {
	// CreateSession stores s, atomically with opt's checks: see
	// CreateOptions. A disabled or erased user gets none: ErrStale.
	CreateSession(ctx context.Context, s Session, opt CreateOptions) (evicted []string, err error)
	SessionByHash(ctx context.Context, h token.Hash) (Session, error)
	SessionByID(ctx context.Context, id string) (Session, error)
	// ListUserSessions returns the user's sessions that are neither revoked,
	// past ExpiresAt nor idle-expired (by the stored last-seen time) at now,
	// newest first.
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// TouchSessions records last-seen times in one batch. A time older than
	// the stored one is ignored, so batches may arrive out of order.
	TouchSessions(ctx context.Context, seen map[string]time.Time) error
	// RevokeSession revokes one session; revoking a revoked session succeeds
	// and changes nothing. ErrNotFound if there is no such session.
	RevokeSession(ctx context.Context, id string, at time.Time, reason string) (Session, error)
	// RevokeUserSessions revokes every live session of the user except the
	// one with ID except (may be empty), and returns the revoked IDs.
	RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) ([]string, error)
	// Revocations returns up to limit feed entries with Seq > after, in Seq
	// order, under the feed ordering contract (see Revocation).
	Revocations(ctx context.Context, after int64, limit int) ([]Revocation, error)
	// ActiveRevocations returns the feed entries that can still matter at
	// now: session revocations at or after sessionsSince, and denials and
	// key revocations whose ExpiresAt is after now; in Seq order.
	ActiveRevocations(ctx context.Context, sessionsSince, now time.Time) ([]Revocation, error)
	// DenyAccessToken records that the access token jti is revoked until its
	// expiry, with a feed entry, atomically; denying twice succeeds once.
	DenyAccessToken(ctx context.Context, jti, userID string, expires, at time.Time, reason string) error
	// LastRevocationSeq returns where a new follower starts: the highest
	// Seq ever assigned, or 0 (a watermark backend returns its watermark).
	// Under the feed ordering contract (see Revocation) no entry at or
	// below it commits afterwards. It never decreases, even when old
	// entries are deleted.
	LastRevocationSeq(ctx context.Context) (int64, error)
	// CountLiveSessions counts sessions neither revoked nor past ExpiresAt at now.
	CountLiveSessions(ctx context.Context, now time.Time) (int, error)
	// DeleteExpired removes sessions whose ExpiresAt is before cutoff and feed
	// entries older than cutoff, and returns how many sessions it removed.
	DeleteExpired(ctx context.Context, cutoff time.Time) (int, error)
	// MarkStepUp sets the session's StepUpAt to at and appends an EvictOnly
	// feed entry for it, atomically, and returns the session as it now is.
	// A session already marked keeps its first mark, and no entry is
	// appended. ErrNotFound if there is no such session; ErrStale if it
	// is revoked. It MUST be durable when it returns nil.
	MarkStepUp(ctx context.Context, id string, at time.Time, reason string) (Session, error)
}

// Store is what a backend provides.
type Store interface {
	Users
	Sessions
	SigningKeys
	Clients
	RefreshTokens
	AccessTokens
	Cluster
	Factors
	AuditLog
	WebAuthn
	DetectState
	Alerts
	// Ping reports whether the backend can answer and commit (a recent
	// storage failure, or a failed probe write when idle, makes it fail);
	// /readyz uses it.
	Ping(ctx context.Context) error
	// Check is the start-up check `tessera serve` runs: the store is whole
	// (an integrity check where the backend has one) and can commit (a
	// probe write). A check that could not finish in its bound returns an
	// error wrapping ErrCheckIncomplete, after the probe committed.
	Check(ctx context.Context) error
	Close() error
}

// Signing-key states. A key is published from the moment it is created
// (next), signs while active, and stays published while retired until no
// token it signed can still be valid.
const (
	KeyNext    = "next"
	KeyActive  = "active"
	KeyRetired = "retired"
)

// SigningKey is one JWS signing key. The private half is stored only
// encrypted under the master key.
type SigningKey struct {
	ID          string // the JWS "kid"
	Alg         string // ES256, EdDSA or RS256
	State       string // KeyNext, KeyActive or KeyRetired
	CreatedAt   time.Time
	ActivatedAt time.Time // zero while next
	RetiredAt   time.Time // zero until retired
	// RevokedAt, if not zero, is when the key was revoked (compromised): it
	// is retired and no longer published, whatever RetiredTTL says.
	RevokedAt  time.Time
	PublicJWK  []byte // JSON Web Key, public part only
	PrivateJWE string // the private JWK sealed as a compact JWE under the master key
}

// SigningKeys stores the signing keyset. Rotation MUST be atomic: at every
// commit there is exactly one active key and at most one next key.
type SigningKeys interface {
	// ListSigningKeys returns every stored key, oldest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// InitSigningKeys stores the first active and next keys if the store has
	// none; ErrConflict if it has some (another node was first).
	InitSigningKeys(ctx context.Context, active, next SigningKey) error
	// RotateSigningKeys retires the active key, activates the next one and
	// stores newNext, all at once, but only if the active key is still
	// expectActive; otherwise ErrConflict (another node rotated first).
	RotateSigningKeys(ctx context.Context, expectActive string, newNext SigningKey, at time.Time) error
	// DeleteRetiredKeys removes keys retired before cutoff.
	DeleteRetiredKeys(ctx context.Context, cutoff time.Time) (int, error)
	// RevokeSigningKey revokes the key kid at once: it becomes retired with
	// RevokedAt set, and one feed entry (Revocation.KID, ExpiresAt until,
	// reason) is appended in the same transaction, so every node and SDK
	// verifier following the feed drops the key. If kid was the next key,
	// newNext (required then) takes its place. The active key cannot be
	// revoked (ErrConflict: rotate first, the caller's policy); ErrNotFound
	// if there is no such key; revoking a revoked key succeeds and changes
	// nothing. It returns the key as it was.
	RevokeSigningKey(ctx context.Context, kid string, newNext SigningKey, at, until time.Time, reason string) (SigningKey, error)
}

// Client is a registered OAuth 2.0 client.
type Client struct {
	ID          string
	Name        string
	SecretHash  []byte // keyed hash of the client secret; nil for a public client
	Grants      []string
	Scopes      []string
	TokenFormat string // "jwt" or "opaque"
	CreatedAt   time.Time
	// Introspect allows the client to call RFC 7662 introspection (a
	// resource server's permission).
	Introspect bool
	// Resources are the RFC 8707 resource indicators (absolute URIs) the
	// client may request access tokens for: their "aud".
	Resources []string
	// Audience is the resource this client serves, if it is a resource
	// server: introspection shows it only tokens meant for it.
	Audience string
	// RedirectURIs (RFC 7591 §2), validated and kept for the OIDC work.
	RedirectURIs []string
	// AuthMethod is the RFC 7591 token_endpoint_auth_method; "" for a
	// client registered before it was recorded.
	AuthMethod string
	// OldSecretHash is the previous secret's keyed hash, still accepted
	// until OldSecretUntil (a rotation's overlap); nil when none.
	OldSecretHash  []byte
	OldSecretUntil time.Time
	// FirstParty marks the operator's own application: only a first-party
	// client may log users in with a password (/v1/login with token
	// delivery; RFC 9700 §2.4 forbids the password grant to the others).
	FirstParty bool
	// RevocationFeed allows the client to read the revocation feed (a
	// verifier's permission, as Introspect is a resource server's).
	RevocationFeed bool
}

// ClientDeletion is what DeleteClient revoked.
type ClientDeletion struct {
	Sessions []string // sessions whose refresh-token family was the client's
	JTIs     []string // the client's opaque access tokens, now denied
}

// Clients stores OAuth clients.
type Clients interface {
	// CreateClient stores c; ErrConflict if the name is taken.
	CreateClient(ctx context.Context, c Client) error
	ClientByID(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient replaces the stored client with c's ID by c (every
	// field but ID and CreatedAt). ErrNotFound if there is none;
	// ErrConflict if the new name is taken.
	UpdateClient(ctx context.Context, c Client) error
	// DeleteClient removes the client and revokes its tokens in one
	// transaction: the sessions of its refresh-token families (revoked
	// with reason, feed entries included, their refresh tokens deleted)
	// and its opaque access tokens (deleted and denied until their
	// expiry, feed entries included). ErrNotFound if there is no client.
	// It MUST be durable when it returns nil.
	DeleteClient(ctx context.Context, id string, at time.Time, reason string) (ClientDeletion, error)
}

// RefreshToken is one rotating refresh token. Its session is its family:
// revoking the session ends every refresh token of the family.
type RefreshToken struct {
	Hash      token.Hash
	SessionID string
	ClientID  string
	Scope     string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until rotated
}

// RefreshState is what a backend loads, inside the transaction that will
// apply the decision, for one presentation of a refresh token: everything
// the refresh policy (oauth.DecideRefresh) decides from.
type RefreshState struct {
	Token RefreshToken // the presented token's record, as it is
	// Superseded reports that a grace retry replaced this token before it
	// was used: it is a tombstone, and presenting it is reuse.
	Superseded bool
	// Successor is the token this one was rotated into; zero if it was never
	// rotated, or was rotated before successors were recorded.
	Successor token.Hash
	// SuccessorUsed reports that Successor has been used (or superseded). A
	// successor no longer stored (deleted after expiry) is not used.
	SuccessorUsed bool
	// RotatedBy is what the plan that rotated this token recorded of the
	// rotating request (oauth: a keyed hash of its network and user agent);
	// nil if it was never rotated, or before this was recorded.
	RotatedBy []byte
	// GraceUsed reports that a grace retry of this token already happened.
	GraceUsed bool
	Session   Session // the family's session, as it is
}

// RefreshOutcome is what a presentation did.
type RefreshOutcome int

const (
	// RefreshRotated: the token was live; it is now used and the successor stored.
	RefreshRotated RefreshOutcome = iota + 1
	// RefreshGraceRetry: the token was rotated moments ago by the same
	// client; another successor replaced the unused one.
	RefreshGraceRetry
	// RefreshReused: the token had been rotated before; the whole family
	// (its session) is now revoked, with reason "refresh_reuse".
	RefreshReused
	// RefreshRefused: expired token, ended session, other client or wider
	// scope; nothing changed.
	RefreshRefused
)

// RefreshPlan is the decision on one presentation: its outcome and the
// writes that carry it out. A backend applies exactly these writes, all or
// none, in the order of the fields below; it adds no policy of its own.
type RefreshPlan struct {
	Outcome RefreshOutcome
	Reason  string // for RefreshRefused: why, safe to log

	// Supersede, if not zero, is the presented token's recorded successor,
	// to be marked used at SupersededAt and superseded (a tombstone).
	Supersede    token.Hash
	SupersededAt time.Time
	// Successor, if its Hash is not zero, is stored, and the presented token
	// is marked used at UsedAt with Successor as its recorded successor,
	// RotatedBy as its RefreshState.RotatedBy and GraceUsed as its flag.
	Successor RefreshToken
	UsedAt    time.Time
	RotatedBy []byte
	GraceUsed bool
	// TouchAt, if not zero, moves the session's last-seen time to TouchAt,
	// unless the stored one is already later.
	TouchAt time.Time
	// RevokeReason, if not empty, deletes every refresh token of the family
	// and revokes its session at RevokedAt with this reason, feed entry
	// included, as Sessions.RevokeSession does.
	RevokeReason string
	RevokedAt    time.Time
}

// RefreshResult reports a presentation.
type RefreshResult struct {
	Outcome   RefreshOutcome
	Presented RefreshToken // the presented token's record, as it was
	Successor RefreshToken // for RefreshRotated and RefreshGraceRetry
	Session   Session      // the family's session, as it was
	Reason    string       // for RefreshRefused (and RefreshReused, if the plan says): why
}

// RefreshTokens stores rotating refresh tokens.
type RefreshTokens interface {
	// CreateRefreshToken stores the first token of a session's family.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RefreshTokenByHash returns a stored refresh token; ErrNotFound if none.
	RefreshTokenByHash(ctx context.Context, h token.Hash) (RefreshToken, error)
	// RotateRefreshToken is the atomic primitive of refresh rotation, with
	// no policy of its own: it loads the RefreshState of the presented
	// token, calls decide with it, applies the returned RefreshPlan, and
	// reports the plan's Outcome, Reason and Successor with the state it
	// loaded. ErrNotFound, without calling decide, if no such token exists.
	//
	// It MUST be atomic and linearizable: the load and the writes are one
	// transaction, under locks that exclude every other rotation of the same
	// family (SQLite's single writer; on PostgreSQL, SELECT … FOR UPDATE of
	// the session row, then of the token), so that every presentation sees
	// the effects of the ones before it. With oauth's policy, of any number
	// of concurrent presentations of one live token, exactly one is then
	// RefreshRotated; the others are RefreshGraceRetry (same client, within
	// grace) or RefreshReused, or ErrNotFound once reuse deleted the family.
	// It MUST be durable when it returns nil. decide must be pure and fast:
	// it runs while the backend holds its locks, and a backend may call it
	// again if it retries the transaction.
	RotateRefreshToken(ctx context.Context, presented token.Hash, decide func(RefreshState) RefreshPlan) (RefreshResult, error)
}

// AccessToken is an opaque access token's record (only for clients whose
// TokenFormat is "opaque"; JWTs are not stored).
type AccessToken struct {
	Hash      token.Hash
	ID        string // the jti: revocation denies it like a JWT's
	ClientID  string
	Subject   string
	Scope     string
	SessionID string // "" for client_credentials
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AccessTokens stores opaque access tokens.
type AccessTokens interface {
	CreateAccessToken(ctx context.Context, t AccessToken) error
	// AccessTokenByHash returns a stored token; ErrNotFound if none.
	AccessTokenByHash(ctx context.Context, h token.Hash) (AccessToken, error)
}
