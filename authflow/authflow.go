package authflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// Errors the flows return besides their dependencies' own
// (authn.ErrInvalidCredentials, *authn.ThrottledError,
// *password.PolicyError, password.ErrBusy, session.ErrStaleCredentials).
var (
	// ErrInvalidClient: token delivery named a client that is unknown, or
	// not a public client allowed refresh tokens.
	ErrInvalidClient = errors.New("authflow: unknown client, or not a public client allowed refresh tokens")
	// ErrUnauthorizedClient: token delivery named a client that is not
	// first party. RFC 9700 §2.4: the resource owner password credentials
	// grant MUST NOT be used; a login that hands a password to a client
	// is that grant, so only the operator's own applications
	// (store.Client.FirstParty) may ask for one. The others use a
	// redirect-based flow. (RFC 6749 §5.2 unauthorized_client.)
	ErrUnauthorizedClient = errors.New("authflow: only first-party clients may log users in with a password")
	// ErrNoTokenDelivery: token delivery was asked of a flow without an issuer.
	ErrNoTokenDelivery = errors.New("authflow: token delivery is not enabled")
	// ErrUnavailable wraps a store failure after the credential was
	// accepted: creating the session, issuing its tokens, or ending the
	// user's other sessions.
	ErrUnavailable = errors.New("authflow: unavailable")
)

// Delivery is how a new session reaches its client.
type Delivery string

const (
	// Cookie: the session token itself, for a browser's cookie jar, with
	// its CSRF token.
	Cookie Delivery = "cookie"
	// Token: a short-lived access token and a rotating refresh token; the
	// session token is never handed out.
	Token Delivery = "token"
)

// Authenticator checks passwords (authn.Authenticator).
type Authenticator interface {
	Login(ctx context.Context, username, pw string, ip netip.Addr) (store.User, error)
	ChangePassword(ctx context.Context, userID, current, next string, ip netip.Addr) error
}

// Sessions starts, finds and ends sessions (session.Manager).
type Sessions interface {
	Create(ctx context.Context, ns session.NewSession) (token.Token, session.Session, error)
	Validate(ctx context.Context, raw string, u session.Use) (session.Session, error)
	Revoke(ctx context.Context, id, reason string) (store.Session, error)
	RevokeUser(ctx context.Context, userID, except, reason string) ([]string, error)
	Recheck(ctx context.Context, cur session.Session) (session.Session, error)
}

// Issuer looks clients up and issues a session's tokens (oauth.Service).
type Issuer interface {
	AuthenticateClient(ctx context.Context, id, secret string) (store.Client, error)
	IssueForSession(ctx context.Context, g oauth.SessionGrant, sessionExpires time.Time) (oauth.Tokens, error)
}

// AccessSessions tells which session an access token stands for
// (tokenstate.Service.AccessSession).
type AccessSessions interface {
	AccessSession(ctx context.Context, raw string, u session.Use) (session.Session, error)
}

// Users reads users.
type Users interface {
	UserByID(ctx context.Context, id string) (store.User, error)
}

// Config is the flows' policy.
type Config struct {
	// TokenIdle and TokenAbsolute are the lifetimes of sessions delivered
	// as tokens: a refresh-token family lives longer than a browser
	// session. Zero: the session manager's own.
	TokenIdle, TokenAbsolute time.Duration
	// Access resolves an access token presented with a login to its
	// session, so that the login ends it; nil: only session tokens are
	// recognised.
	Access AccessSessions
	// Events receives event.LoginSucceeded once a login started its
	// session, and event.LoginFailed for a login refused after its
	// password was accepted (authn publishes the refusals before; nil:
	// none).
	Events event.Sink
	Now    func() time.Time // event times; nil: time.Now
	Logger *slog.Logger     // nil: discard

	// Factors and Challenges enable second factors (mfa.Service and the
	// store); nil: password logins start sessions at once.
	Factors    SecondFactors
	Challenges Challenges
	MFA        MFAPolicy
}

// Flows runs the login and password-change flows. Safe for concurrent use.
type Flows struct {
	authn    Authenticator
	sessions Sessions
	users    Users
	issuer   Issuer // nil: no token delivery
	cfg      Config
}

// New returns the flows. issuer may be nil: then every session is
// delivered by cookie.
func New(an Authenticator, sm Sessions, users Users, issuer Issuer, cfg Config) *Flows {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.MFA.defaults()
	return &Flows{authn: an, sessions: sm, users: users, issuer: issuer, cfg: cfg}
}

// Login is a password login request.
type Login struct {
	Username, Password string
	Delivery           Delivery
	// ClientID, with token delivery, names the public client the tokens
	// are for; "" is Tessera's own first-party login.
	ClientID string
	// Presented are the credentials the request carried besides the
	// password (the session cookie, the bearer token; never logged): a
	// successful login ends the live sessions they stand for.
	Presented []string
	// NewPassword, if set, answers an administrator's must-change reset
	// (authn.ErrPasswordChangeRequired): once the password is accepted,
	// it replaces it and the login goes on with it. Ignored otherwise.
	NewPassword string
}

// Result is a started session and what delivers it, or, when MFA is
// set, the challenge a login awaits (and no session).
type Result struct {
	// MFA, if not nil, is the second-factor challenge: no session exists
	// yet and every other field but Delivery is zero.
	MFA *Challenge
	// EnrollmentRequired: MFA is required and the user has no second
	// factor: the session may only enroll one.
	EnrollmentRequired bool

	Delivery Delivery
	Session  session.Session
	// SessionToken and CSRFToken are set for cookie delivery only.
	SessionToken token.Token
	CSRFToken    string
	// Tokens is set for token delivery only.
	Tokens oauth.Tokens
}

// Login checks the password (authn's throttles and errors pass through
// unchanged) and then either starts a session delivered as asked, or,
// when the user has a second factor (and Config.Factors is set), returns
// a Result whose MFA is the challenge CompleteMFA (or CompleteWith)
// finishes. u is the login's client address and user agent. A login that
// starts a session first ends every live session req.Presented stands
// for, whoever's it is, and the new session is always a fresh one (ASVS
// 5.0 7.2.4: a new session token on authentication, the current one
// terminated; no fixation). A failed login ends nothing, and neither does
// a challenge.
func (f *Flows) Login(ctx context.Context, req Login, u session.Use) (Result, error) {
	if req.Delivery == Token && f.issuer == nil {
		return Result{}, ErrNoTokenDelivery
	}
	// A client that may not take passwords is refused before the password
	// is checked: a third-party application must not even learn whether
	// the password it collected is right.
	if _, err := f.client(ctx, req); errors.Is(err, ErrUnauthorizedClient) {
		f.loginOutcome(ctx, Result{}, err, "", req.ClientID, "", u)
		return Result{}, err
	}
	user, err := f.authn.Login(ctx, req.Username, req.Password, u.IP)
	var must *authn.PasswordChangeRequiredError
	if errors.As(err, &must) && req.NewPassword != "" && req.NewPassword != req.Password {
		// ChangePassword checks the current password again and clears the
		// flag; the login then runs with the new one, as any other.
		if err = f.authn.ChangePassword(ctx, must.UserID, req.Password, req.NewPassword, u.IP); err == nil {
			user, err = f.authn.Login(ctx, req.Username, req.NewPassword, u.IP)
		}
	}
	if err != nil {
		return Result{}, err // authn published the failure
	}
	// The client first: a challenge is bound to it, and must not be
	// handed out for a client that could not receive the tokens.
	if _, err := f.client(ctx, req); err != nil {
		f.loginOutcome(ctx, Result{}, err, user.ID, req.ClientID, "", u)
		return Result{}, err
	}
	ch, err := f.second(ctx, req, user)
	if err != nil {
		f.loginOutcome(ctx, Result{}, err, user.ID, req.ClientID, "", u)
		return Result{}, err
	}
	if ch != nil {
		e := event.Event{Kind: event.MFAChallenged, IP: u.IP, UserAgent: u.UserAgent, UserID: user.ID}
		if req.Delivery == Token {
			e.ClientID = req.ClientID
		}
		f.publish(ctx, e)
		return Result{MFA: ch, Delivery: req.Delivery}, nil
	}
	res, err := f.finish(ctx, req, user, []string{"pwd"}, 1, u)
	res.EnrollmentRequired = err == nil && f.mfaEnabled() && f.cfg.MFA.Required
	f.loginOutcome(ctx, res, err, user.ID, req.ClientID, "", u)
	return res, err
}

// loginOutcome publishes a login's outcome, counted once: a right
// password whose login still failed is not a success.
func (f *Flows) loginOutcome(ctx context.Context, res Result, err error, userID, clientID, method string, u session.Use) {
	e := event.Event{Kind: event.LoginSucceeded, IP: u.IP, UserAgent: u.UserAgent, UserID: userID, Method: method}
	switch {
	case err == nil:
		e.SessionID = res.Session.ID
		if res.Delivery == Token {
			e.ClientID = clientID
		}
	case errors.Is(err, session.ErrStaleCredentials), errors.Is(err, ErrChallenge):
		return // session.Create published the failure; a challenge failure is MFAFailed
	case errors.Is(err, ErrInvalidClient):
		e.Kind, e.Reason = event.LoginFailed, event.ReasonInvalidClient
	case errors.Is(err, ErrUnauthorizedClient):
		e.Kind, e.Reason, e.ClientID = event.LoginFailed, event.ReasonUnauthorizedClient, clientID
	default:
		e.Kind, e.Reason = event.LoginFailed, event.ReasonError
	}
	f.publish(ctx, e)
}

// client returns the public client a token-delivery login names, or the
// zero client for Tessera's own login. Every path that delivers a login's
// tokens to a named client (password, second factor, passkey, step-up
// renewal) asks it.
func (f *Flows) client(ctx context.Context, req Login) (store.Client, error) {
	if req.ClientID == "" || req.Delivery != Token {
		return store.Client{}, nil
	}
	// Only public clients log users in directly; a confidential client
	// would have to present its secret, which a browser cannot keep.
	c, err := f.issuer.AuthenticateClient(ctx, req.ClientID, "")
	if err != nil || !slices.Contains(c.Grants, oauth.GrantRefreshToken) {
		return store.Client{}, ErrInvalidClient
	}
	// RFC 9700 §2.4: no password grant for third-party clients.
	if !c.FirstParty {
		return store.Client{}, ErrUnauthorizedClient
	}
	return c, nil
}

// MayHandleCredentials reports (nil) whether the public client clientID
// may stand for the user where credentials are handled: a step-up, a
// second factor's enrollment or removal, recovery codes. As for a login
// (client): only a first-party client may, RFC 9700 §2.4; otherwise
// ErrUnauthorizedClient, or ErrInvalidClient for a client that is gone
// or cannot log users in.
func (f *Flows) MayHandleCredentials(ctx context.Context, clientID string) error {
	if f.issuer == nil {
		return ErrInvalidClient
	}
	_, err := f.client(ctx, Login{Delivery: Token, ClientID: clientID})
	return err
}

// finish starts the session of a login whose every step passed, with
// the assurance it reached.
func (f *Flows) finish(ctx context.Context, req Login, user store.User, amr []string, aal int, u session.Use) (Result, error) {
	client, err := f.client(ctx, req)
	if err != nil {
		return Result{}, err
	}
	if err := f.endPresented(ctx, req.Presented, u); err != nil {
		return Result{}, err
	}
	return f.start(ctx, user, amr, aal, req.Delivery, client, u)
}

// endPresented ends the live sessions the credentials presented with a
// login stand for: a session token's, or an access token's. A credential
// that is not live is nothing to end; a store that cannot answer fails
// the login, since the session it would leave behind must not live on.
func (f *Flows) endPresented(ctx context.Context, presented []string, u session.Use) error {
	for _, raw := range presented {
		var sess session.Session
		var err error
		switch token.KindOf(raw) {
		case token.Session:
			sess, err = f.sessions.Validate(ctx, raw, u)
		case token.JWT, token.Access:
			if f.cfg.Access == nil {
				continue
			}
			sess, err = f.cfg.Access.AccessSession(ctx, raw, u)
		default:
			continue
		}
		if errors.Is(err, session.ErrUnavailable) {
			return fmt.Errorf("%w: checking the session presented with a login: %w", ErrUnavailable, err)
		}
		if err != nil {
			continue // not live: nothing to end
		}
		if _, err := f.sessions.Revoke(ctx, sess.ID, session.ReasonRelogin); err != nil && !errors.Is(err, session.ErrNotFound) {
			return fmt.Errorf("%w: ending the session presented with a login: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// ChangePassword changes cur's user's password and then ends every
// session of the user, cur included, and starts a fresh one delivered to
// to (by cookie if there is no issuer; for the same public client, or the
// first-party login if that client can no longer log users in): a
// credential change is a privilege change, and a stolen copy of the
// current token must die with the old password.
func (f *Flows) ChangePassword(ctx context.Context, cur session.Session, current, next string, to Target, u session.Use) (Result, error) {
	if err := f.authn.ChangePassword(ctx, cur.UserID, current, next, u.IP); err != nil {
		return Result{}, err
	}
	ids, err := f.sessions.RevokeUser(ctx, cur.UserID, "", session.ReasonPasswordChange)
	if err != nil {
		// The password changed but old sessions live: fail loudly so the
		// client retries the revocation (the new password works).
		return Result{}, fmt.Errorf("%w: revoking sessions after a password change: %w", ErrUnavailable, err)
	}
	f.cfg.Logger.Info("password changed", "user_id", cur.UserID, "sessions_revoked", len(ids))
	user, err := f.users.UserByID(ctx, cur.UserID)
	if err != nil {
		return Result{}, fmt.Errorf("%w: user lookup after a password change: %w", ErrUnavailable, err)
	}
	d, client, err := f.renewTarget(ctx, to)
	if errors.Is(err, ErrUnauthorizedClient) {
		return Result{}, err // no first-party tokens for a third party; the revocation above stands
	}
	if err != nil {
		client = store.Client{} // the revocation above stands
	}
	return f.start(ctx, user, cur.AMR, cur.AAL, d, client, u)
}

// start creates a session for user and what delivers it.
func (f *Flows) start(ctx context.Context, user store.User, amr []string, aal int, d Delivery, client store.Client, u session.Use) (Result, error) {
	ns := session.NewSession{
		UserID: user.ID, Username: user.Username, UserAgent: u.UserAgent, AMR: amr, AAL: aal,
		PasswordChangedAt: user.PasswordChangedAt,
	}
	if u.IP.IsValid() {
		ns.IP = u.IP.String()
	}
	if d == Token {
		ns.IdleTimeout, ns.AbsoluteTimeout = f.cfg.TokenIdle, f.cfg.TokenAbsolute
	}
	tok, sess, err := f.sessions.Create(ctx, ns)
	if errors.Is(err, session.ErrStaleCredentials) {
		// The password changed while this login was checked against the
		// old one (session.Create published the failed login).
		return Result{}, err
	}
	if err != nil {
		return Result{}, fmt.Errorf("%w: create session for user %s: %w", ErrUnavailable, user.ID, err)
	}
	res := Result{Delivery: d, Session: sess}
	if d != Token {
		res.Delivery, res.SessionToken, res.CSRFToken = Cookie, tok, session.CSRFToken(tok.Reveal())
		return res, nil
	}
	// The session token itself is never handed out here: API clients
	// hold a short-lived access token and a rotating refresh token.
	res.Tokens, err = f.issuer.IssueForSession(ctx, oauth.SessionGrant{
		SessionID: sess.ID, UserID: user.ID, AuthTime: sess.AuthTime, AMR: sess.AMR, AAL: sess.AAL,
		ClientID: client.ID, Scope: strings.Join(client.Scopes, " "), TokenFormat: client.TokenFormat,
	}, sess.ExpiresAt)
	if err != nil {
		// A session nobody can use must not linger; if it cannot be ended
		// either, it expires unused (nobody holds its token), but say so.
		if _, rerr := f.sessions.Revoke(ctx, sess.ID, session.ReasonLogout); rerr != nil {
			f.cfg.Logger.Warn("unusable session left to expire", "session_id", sess.ID, "err", rerr)
		}
		return Result{}, fmt.Errorf("%w: token issuance for session %s: %w", ErrUnavailable, sess.ID, err)
	}
	return res, nil
}

func (f *Flows) publish(ctx context.Context, e event.Event) {
	if f.cfg.Events != nil {
		e.At = f.cfg.Now().UTC()
		f.cfg.Events.Publish(ctx, e)
	}
}
