package authflow

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// The login state machine. A login moves through these states; each
// front end (the JSON API, later HTML pages and OIDC authorize) only
// renders the state it is handed:
//
//	password ──(no factor, or MFA off)──────────────▶ session
//	password ──(factor enrolled)──▶ challenge ──(second factor)──▶ session
//	passkey  ──(discoverable credential, UV)───────────────────▶ session
//	session  ──(step-up: password or factor)──▶ renewed session
//
// A challenge is an mfa_token (token.MFA): opaque, single-use, stored
// hashed, short-lived, with a bounded number of attempts, and bound to
// the delivery and client chosen at the password step. No session exists
// until the second factor is proven.

// Errors of the second-factor steps, besides mfa's (mfa.ErrInvalidCode,
// mfa.ErrReplay, mfa.ErrNotEnrolled, *mfa.ThrottledError).
var (
	// ErrChallenge: the mfa_token is malformed, unknown, expired, used,
	// out of attempts, or presented for another delivery or client. One
	// error for all: the client starts the login again.
	ErrChallenge = errors.New("authflow: invalid, expired or used mfa_token")
	// ErrMethodNotAllowed: the method is not allowed by policy, or not
	// one of this challenge's methods.
	ErrMethodNotAllowed = errors.New("authflow: second-factor method not allowed")
	// ErrEnrollmentOnly: MFA is required and the session has not proven a
	// second factor: it may only enroll one (or log out).
	ErrEnrollmentOnly = errors.New("authflow: second factor required; enroll one")
)

// StepUpError says an action needs a fresher (or stronger)
// authentication: RFC 9470's insufficient_user_authentication, with the
// max_age and acr_values a client should ask for.
type StepUpError struct {
	MaxAge time.Duration // the longest acceptable time since auth_time
	ACR    string        // the lowest acceptable acr ("aal2"); "" for any
}

func (e *StepUpError) Error() string {
	return fmt.Sprintf("authflow: recent authentication required (max_age %v, acr %q)", e.MaxAge, e.ACR)
}

// SecondFactors verifies second factors by code and lists a user's
// methods (mfa.Service).
type SecondFactors interface {
	Methods(ctx context.Context, userID string) ([]mfa.Method, error)
	Verify(ctx context.Context, userID string, m mfa.Method, code string, ip netip.Addr) (mfa.Proof, error)
}

// Challenges stores pending second-factor challenges (store.Factors).
type Challenges interface {
	CreateMFAChallenge(ctx context.Context, c store.MFAChallenge) error
	MFAChallengeByHash(ctx context.Context, h token.Hash) (store.MFAChallenge, error)
	AttemptMFAChallenge(ctx context.Context, h token.Hash, maxAttempts int, now time.Time) (store.MFAChallenge, error)
	ConsumeMFAChallenge(ctx context.Context, h token.Hash, at time.Time) error
}

// MFAPolicy is the deployment's second-factor policy (config policy.mfa).
type MFAPolicy struct {
	// Required: every login must pass a second factor. A user with none
	// gets a session that may only enroll one (ErrEnrollmentOnly
	// elsewhere), at AAL1. Tessera has no administrator accounts (the
	// admin API has its own credential), so there is no "required for
	// admins" mode.
	Required bool
	// Methods are the allowed second-factor methods; nil: all.
	Methods []mfa.Method
	// RecentAuth is how old auth_time may be for sensitive actions
	// (password change, adding or removing a factor, recovery codes).
	// Default 10m.
	RecentAuth time.Duration
	// ChallengeTTL is an mfa_token's lifetime. Default 5m.
	ChallengeTTL time.Duration
	// ChallengeAttempts is how many second-factor attempts an mfa_token
	// allows. Default 5.
	ChallengeAttempts int
}

func (p *MFAPolicy) defaults() {
	if p.RecentAuth <= 0 {
		p.RecentAuth = 10 * time.Minute
	}
	if p.ChallengeTTL <= 0 {
		p.ChallengeTTL = 5 * time.Minute
	}
	if p.ChallengeAttempts <= 0 {
		p.ChallengeAttempts = 5
	}
}

// Allowed reports whether policy allows method m.
func (p MFAPolicy) Allowed(m mfa.Method) bool {
	return p.Methods == nil || slices.Contains(p.Methods, m)
}

// Challenge is the state of a login whose password was accepted and
// whose second factor is awaited.
type Challenge struct {
	Token     token.Token  // the mfa_token; never logged
	Methods   []mfa.Method // what the user may answer with, in order of preference
	ExpiresAt time.Time
}

// mfaEnabled reports whether the flows know second factors.
func (f *Flows) mfaEnabled() bool { return f.cfg.Factors != nil && f.cfg.Challenges != nil }

// second decides, once the password is accepted, whether a second factor
// is needed: it returns the challenge, or nil for "start the session".
func (f *Flows) second(ctx context.Context, req Login, user store.User) (*Challenge, error) {
	if !f.mfaEnabled() {
		return nil, nil
	}
	all, err := f.cfg.Factors.Methods(ctx, user.ID)
	if err != nil {
		return nil, fmt.Errorf("%w: second factors of user %s: %w", ErrUnavailable, user.ID, err)
	}
	var methods []mfa.Method
	for _, m := range all {
		if f.cfg.MFA.Allowed(m) {
			methods = append(methods, m)
		}
	}
	if len(methods) == 0 {
		return nil, nil // no usable factor: MFAPolicy.Required makes the session enrollment-only
	}
	tok, err := token.New(token.MFA)
	if err != nil {
		return nil, fmt.Errorf("authflow: %w", err)
	}
	now := f.now()
	c := store.MFAChallenge{
		Hash: tok.Hash(), UserID: user.ID, Delivery: string(req.Delivery), ClientID: req.ClientID,
		AMR: []string{mfa.AMRPassword}, CreatedAt: now, ExpiresAt: now.Add(f.cfg.MFA.ChallengeTTL),
	}
	if req.Delivery != Token {
		c.ClientID = ""
	}
	if err := f.cfg.Challenges.CreateMFAChallenge(ctx, c); err != nil {
		return nil, fmt.Errorf("%w: storing an mfa challenge: %w", ErrUnavailable, err)
	}
	return &Challenge{Token: tok, Methods: methods, ExpiresAt: c.ExpiresAt}, nil
}

// SecondFactor answers a challenge.
type SecondFactor struct {
	MFAToken string
	Method   mfa.Method
	Code     string // for TOTP and recovery codes
	// Delivery and ClientID, when the client repeats them, must be those
	// of the password step: an mfa_token obtained for a browser cookie
	// cannot be turned into API tokens, nor one for a client into
	// another's.
	Delivery Delivery
	ClientID string
	// Presented are the credentials the request carried (see Login).
	Presented []string
}

// Prove verifies one second factor of the challenge's user; the
// WebAuthn ceremony is one (a Prove that checks an assertion).
type Prove func(ctx context.Context, userID string) (mfa.Proof, error)

// CompleteMFA finishes a login with a code (TOTP or recovery code).
func (f *Flows) CompleteMFA(ctx context.Context, req SecondFactor, u session.Use) (Result, error) {
	if !f.mfaEnabled() {
		return Result{}, ErrChallenge
	}
	if req.Method != mfa.TOTP && req.Method != mfa.RecoveryCode {
		return Result{}, ErrMethodNotAllowed
	}
	return f.CompleteWith(ctx, req, func(ctx context.Context, userID string) (mfa.Proof, error) {
		return f.cfg.Factors.Verify(ctx, userID, req.Method, req.Code, u.IP)
	}, u)
}

// PendingChallenge returns the user a live challenge is for, counting no
// attempt: what a WebAuthn ceremony needs to list the user's
// credentials before the assertion. ErrChallenge if the token is not a
// live challenge.
func (f *Flows) PendingChallenge(ctx context.Context, raw string) (store.MFAChallenge, error) {
	if !f.mfaEnabled() {
		return store.MFAChallenge{}, ErrChallenge
	}
	tok, err := token.Parse(token.MFA, raw)
	if err != nil {
		return store.MFAChallenge{}, ErrChallenge
	}
	c, err := f.cfg.Challenges.MFAChallengeByHash(ctx, tok.Hash())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.MFAChallenge{}, ErrChallenge
	case err != nil:
		return store.MFAChallenge{}, fmt.Errorf("%w: reading an mfa challenge: %w", ErrUnavailable, err)
	case !c.UsedAt.IsZero(), !f.now().Before(c.ExpiresAt), c.Attempts >= f.cfg.MFA.ChallengeAttempts:
		return store.MFAChallenge{}, ErrChallenge
	}
	return c, nil
}

// CompleteWith finishes a login with the second factor prove checks. The
// attempt is counted before prove runs (so concurrent guesses never
// exceed the budget), the challenge is consumed once prove succeeds (so
// one challenge yields at most one session), and the session is started
// as the password step chose: delivery and client.
func (f *Flows) CompleteWith(ctx context.Context, req SecondFactor, prove Prove, u session.Use) (Result, error) {
	if !f.mfaEnabled() {
		return Result{}, ErrChallenge
	}
	if !f.cfg.MFA.Allowed(req.Method) {
		return Result{}, ErrMethodNotAllowed
	}
	tok, err := token.Parse(token.MFA, req.MFAToken)
	if err != nil {
		f.mfaFailed(ctx, "", req.Method, u, event.ReasonChallenge)
		return Result{}, ErrChallenge
	}
	now := f.now()
	c, err := f.cfg.Challenges.AttemptMFAChallenge(ctx, tok.Hash(), f.cfg.MFA.ChallengeAttempts, now)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrStale):
		f.mfaFailed(ctx, c.UserID, req.Method, u, event.ReasonChallenge)
		return Result{}, ErrChallenge
	case err != nil:
		return Result{}, fmt.Errorf("%w: mfa challenge: %w", ErrUnavailable, err)
	}
	if req.Delivery != "" && req.Delivery != Delivery(c.Delivery) || req.ClientID != "" && req.ClientID != c.ClientID {
		f.mfaFailed(ctx, c.UserID, req.Method, u, event.ReasonChallenge)
		return Result{}, ErrChallenge
	}
	proof, err := prove(ctx, c.UserID)
	if err != nil {
		return Result{}, err // the factor published its failure
	}
	if err := f.cfg.Challenges.ConsumeMFAChallenge(ctx, tok.Hash(), now); errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrNotFound) {
		f.mfaFailed(ctx, c.UserID, req.Method, u, event.ReasonChallenge)
		return Result{}, ErrChallenge // a concurrent completion won
	} else if err != nil {
		return Result{}, fmt.Errorf("%w: consuming an mfa challenge: %w", ErrUnavailable, err)
	}
	user, err := f.users.UserByID(ctx, c.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, ErrChallenge // deleted meanwhile
	}
	if err != nil {
		return Result{}, fmt.Errorf("%w: user lookup: %w", ErrUnavailable, err)
	}
	if user.PasswordChangedAt.After(c.CreatedAt) {
		// The password proven at the first step is no longer the user's.
		return Result{}, ErrChallenge
	}
	if !user.DisabledAt.IsZero() {
		// Disabled (or deleted) after the password step: authn refuses a
		// disabled account before any challenge, and this one is too late.
		return Result{}, ErrChallenge
	}
	amr, aal := mfa.Merge(c.AMR, proof)
	res, err := f.finish(ctx, Login{Delivery: Delivery(c.Delivery), ClientID: c.ClientID, Presented: req.Presented}, user, amr, aal, u)
	f.loginOutcome(ctx, res, err, user.ID, c.ClientID, string(proof.Method), u)
	return res, err
}

// ProofLogin is a login by a credential that stands alone (a passkey
// with user verification): no password step, no challenge.
type ProofLogin struct {
	User      store.User
	Proof     mfa.Proof
	Delivery  Delivery
	ClientID  string
	Presented []string
}

// LoginWithProof starts a session for a user a passwordless credential
// proved (the WebAuthn login/finish without an mfa_token). Its assurance
// is the proof's own (mfa.Assess: ["hwk","user"] is AAL3).
func (f *Flows) LoginWithProof(ctx context.Context, req ProofLogin, u session.Use) (Result, error) {
	if req.Delivery == Token && f.issuer == nil {
		return Result{}, ErrNoTokenDelivery
	}
	amr, aal := mfa.Assess(req.Proof.AMR)
	res, err := f.finish(ctx, Login{Delivery: req.Delivery, ClientID: req.ClientID, Presented: req.Presented}, req.User, amr, aal, u)
	f.loginOutcome(ctx, res, err, req.User.ID, req.ClientID, string(req.Proof.Method), u)
	return res, err
}

// Target is where a renewed session goes: the delivery its holder uses
// and, for token delivery, the public client its tokens were for ("": the
// first-party login), so that a renewal never changes who may refresh.
type Target struct {
	Delivery Delivery
	ClientID string
}

// renewTarget resolves a Target: token delivery needs an issuer (else
// cookie), and a named client must still be a public client allowed
// refresh tokens.
func (f *Flows) renewTarget(ctx context.Context, to Target) (Delivery, store.Client, error) {
	if to.Delivery == Token && f.issuer == nil {
		return Cookie, store.Client{}, nil
	}
	c, err := f.client(ctx, Login{Delivery: to.Delivery, ClientID: to.ClientID})
	return to.Delivery, c, err
}

// Reauth is a step-up request: the password, or a second-factor code.
type Reauth struct {
	Method   mfa.Method
	Password string // for mfa.Password
	Code     string // for mfa.TOTP and mfa.RecoveryCode
}

// Reauth re-proves a credential for the session cur and renews it (see
// StepUp). The password is checked by authn, with its throttles; a code
// by the second factors, with theirs.
func (f *Flows) Reauth(ctx context.Context, cur session.Session, req Reauth, to Target, u session.Use) (Result, error) {
	var proof mfa.Proof
	switch req.Method {
	case mfa.Password:
		user, err := f.authn.Login(ctx, cur.Username, req.Password, u.IP)
		if err != nil {
			return Result{}, err
		}
		if user.ID != cur.UserID {
			return Result{}, ErrUnavailable // a renamed account: never mix users
		}
		proof = mfa.Proof{Method: mfa.Password, AMR: []string{mfa.AMRPassword}}
	case mfa.TOTP, mfa.RecoveryCode:
		if !f.mfaEnabled() || !f.cfg.MFA.Allowed(req.Method) {
			return Result{}, ErrMethodNotAllowed
		}
		p, err := f.cfg.Factors.Verify(ctx, cur.UserID, req.Method, req.Code, u.IP)
		if err != nil {
			return Result{}, err
		}
		proof = p
	default:
		return Result{}, ErrMethodNotAllowed
	}
	return f.StepUp(ctx, cur, proof, to, u)
}

// StepUp renews the session cur after proof was verified for its user
// (a step-up, or a second factor just enrolled): a fresh session with
// auth_time now and the merged amr and AAL (never lower than cur's)
// replaces it, delivered to to, and cur is revoked. A privilege change
// always changes the token (and so the CSRF token): one stolen before is
// worth less after.
func (f *Flows) StepUp(ctx context.Context, cur session.Session, proof mfa.Proof, to Target, u session.Use) (Result, error) {
	amr, aal := mfa.Merge(cur.AMR, proof)
	aal = max(aal, cur.AAL)
	user, err := f.users.UserByID(ctx, cur.UserID)
	if err != nil {
		return Result{}, fmt.Errorf("%w: user lookup for a step-up: %w", ErrUnavailable, err)
	}
	d, client, err := f.renewTarget(ctx, to)
	if err != nil {
		return Result{}, err
	}
	res, err := f.start(ctx, user, amr, aal, d, client, u)
	if err != nil {
		return Result{}, err
	}
	if _, err := f.sessions.Revoke(ctx, cur.ID, session.ReasonRenewed); err != nil && !errors.Is(err, session.ErrNotFound) {
		// The old token must not outlive its renewal: undo the new one.
		if _, rerr := f.sessions.Revoke(ctx, res.Session.ID, session.ReasonRenewed); rerr != nil {
			f.cfg.Logger.Warn("renewed session left to expire", "session_id", res.Session.ID, "err", rerr)
		}
		return Result{}, fmt.Errorf("%w: revoking the session a step-up renewed: %w", ErrUnavailable, err)
	}
	f.publish(ctx, event.Event{Kind: event.Reauthenticated, UserID: user.ID, SessionID: res.Session.ID, Method: string(proof.Method), IP: u.IP, UserAgent: u.UserAgent})
	return res, nil
}

// RequireRecent refuses a sensitive action (password change, adding or
// removing a factor, recovery codes) on a session whose auth_time is
// older than the recent-auth window, or that is marked for a step-up
// (session.Manager.RequireStepUp: detection no longer trusts it, however
// recent): a *StepUpError, which the HTTP layer renders as RFC 9470's
// challenge. Re-authentication (Reauth) answers both.
//
// The mark is read from the store, not only from cur: a sensitive use is
// rare enough to pay one read so that a mark made a moment ago, on any
// node, closes the gate at once (session.Manager.Recheck). A session
// revoked meanwhile fails with session.ErrRevoked or ErrInvalid, a store
// that cannot answer with ErrUnavailable.
func (f *Flows) RequireRecent(ctx context.Context, cur session.Session) error {
	window := f.cfg.MFA.RecentAuth
	if cur.StepUpRequired || f.now().Sub(cur.AuthTime) > window {
		return &StepUpError{MaxAge: window}
	}
	now, err := f.sessions.Recheck(ctx, cur)
	if errors.Is(err, session.ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err != nil {
		return err
	}
	if now.StepUpRequired {
		return &StepUpError{MaxAge: window}
	}
	return nil
}

// RequireUnmarked refuses to act on the user's other sessions (ending
// them) from a session marked for a step-up: detection suspects it is a
// stolen copy, and its holder must not lock the owner out of their other
// devices while keeping it. A *StepUpError, like RequireRecent's; the
// mark is read from the store as there. Re-authentication answers it.
func (f *Flows) RequireUnmarked(ctx context.Context, cur session.Session) error {
	if !cur.StepUpRequired {
		now, err := f.sessions.Recheck(ctx, cur)
		if errors.Is(err, session.ErrUnavailable) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if err != nil {
			return err
		}
		cur = now
	}
	if cur.StepUpRequired {
		return &StepUpError{MaxAge: f.cfg.MFA.RecentAuth}
	}
	return nil
}

// EnrollmentOnly reports whether the session may only enroll a second
// factor: MFA is required and it has proven none.
func (f *Flows) EnrollmentOnly(cur session.Session) bool {
	return f.cfg.MFA.Required && cur.AAL < 2
}

// RevokeAll ends every session of the user: after the last second factor
// is removed, or an admin reset. It returns how many ended.
func (f *Flows) RevokeAll(ctx context.Context, userID, reason string) (int, error) {
	ids, err := f.sessions.RevokeUser(ctx, userID, "", reason)
	if err != nil {
		return 0, fmt.Errorf("%w: revoking the sessions of user %s: %w", ErrUnavailable, userID, err)
	}
	return len(ids), nil
}

// RenewAfterReset ends every session of cur's user, cur included, and
// starts a fresh one for cur's client with cur's assurance less the amr
// values in drop (those of a factor just removed): what removing a
// second factor does (the sessions that relied on it end).
func (f *Flows) RenewAfterReset(ctx context.Context, cur session.Session, reason string, drop []string, to Target, u session.Use) (Result, error) {
	if _, err := f.RevokeAll(ctx, cur.UserID, reason); err != nil {
		return Result{}, err
	}
	d, client, err := f.renewTarget(ctx, to)
	if errors.Is(err, ErrUnauthorizedClient) {
		// A third-party client's caller is never handed first-party
		// tokens instead; the revocation above stands.
		return Result{}, err
	}
	if err != nil {
		// The client can no longer log users in: the fresh session is
		// the first-party login's. The revocation above stands either way.
		client = store.Client{}
	}
	user, err := f.users.UserByID(ctx, cur.UserID)
	if err != nil {
		return Result{}, fmt.Errorf("%w: user lookup: %w", ErrUnavailable, err)
	}
	kept := slices.DeleteFunc(slices.Clone(cur.AMR), func(v string) bool { return slices.Contains(drop, v) })
	amr, aal := mfa.Assess(kept)
	return f.start(ctx, user, amr, min(aal, cur.AAL), d, client, u)
}

func (f *Flows) mfaFailed(ctx context.Context, userID string, m mfa.Method, u session.Use, reason string) {
	f.publish(ctx, event.Event{Kind: event.MFAFailed, UserID: userID, Method: string(m), IP: u.IP, UserAgent: u.UserAgent, Reason: reason})
}

func (f *Flows) now() time.Time { return f.cfg.Now().UTC().Truncate(time.Microsecond) }
