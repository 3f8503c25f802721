package tokenstate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/protocol"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// ErrNotYours is Revoke's answer when the token was issued to another
// client (RFC 7009 §2.1); the endpoint renders it as unauthorized_client.
var ErrNotYours = errors.New("tokenstate: the token was not issued to this client")

// ErrClientAuthRequired is Revoke's answer when a caller that did not
// authenticate (the first party, or a public client) presents a token of
// a confidential client: RFC 7009 §2.1 has that client authenticate, so
// the endpoint answers 401 invalid_client (RFC 6749 §5.2), as it would a
// missing secret.
var ErrClientAuthRequired = errors.New("tokenstate: the token's client must authenticate to revoke it")

// ErrNotPermitted is Introspect's answer to a client without the
// introspection permission (store.Client.Introspect).
var ErrNotPermitted = errors.New("tokenstate: this client may not introspect")

// ErrUnavailable wraps a store or feed failure: the token's state is
// unknown, which a caller must never take for "inactive" or "revoked".
var ErrUnavailable = errors.New("tokenstate: unavailable")

// Sessions validates and ends the sessions tokens belong to.
type Sessions interface {
	Validate(ctx context.Context, raw string, u session.Use) (session.Session, error)
	ValidateID(ctx context.Context, id string, u session.Use) (session.Session, error)
	Revoke(ctx context.Context, id, reason string) (store.Session, error)
}

// Denylist is the revocation follower's access-token denylist.
type Denylist interface {
	Denied(ctx context.Context, jti string) (bool, error)
	Deny(ctx context.Context, jti, userID string, expires time.Time, reason string) error
}

// Verifier checks a JWT access token's signature and claims (the shared
// verified-token cache in front of accesstoken.Verifier).
type Verifier interface {
	Verify(raw string, now time.Time) (*accesstoken.Claims, error)
}

// Store reads the stored tokens, and the clients they were issued to.
type Store interface {
	RefreshTokenByHash(ctx context.Context, h token.Hash) (store.RefreshToken, error)
	AccessTokenByHash(ctx context.Context, h token.Hash) (store.AccessToken, error)
	ClientByID(ctx context.Context, id string) (store.Client, error)
}

// Config is what the service needs besides its dependencies.
type Config struct {
	Issuer string // "iss" of opaque tokens' introspection answers
	// Audience is the default "aud" of access tokens: one minted without an
	// RFC 8707 resource. Only such tokens are bearer credentials for
	// Tessera's own API, and every resource server may introspect them; a
	// token restricted to resources is active only for the resource server
	// whose client Audience it names. "": no audience policy (the verifier
	// checks a fixed one).
	Audience string
	// Opaque tokens' introspection answers carry it as their "aud" too.
	// FirstPartyID is the client_id of Tessera's own login (its access
	// tokens carry it; oauth.Service.FirstParty); "" means
	// oauth.DefaultFirstPartyID.
	FirstPartyID string
	// Events receives event.Introspected, event.TokenRevoked, and
	// event.SessionValidated for a revoked (denied) JWT presented; nil: none.
	Events event.Sink
	Now    func() time.Time // nil: time.Now
	// OpaqueCache bounds how many opaque access tokens' stored records
	// are kept (see opaqueCache); 0: DefaultOpaqueCache.
	OpaqueCache int
}

// Service answers introspection and revocation. Safe for concurrent use.
type Service struct {
	sessions Sessions
	denylist Denylist
	verifier Verifier // nil: JWTs are never active
	st       Store
	cfg      Config
	opaque   *opaqueCache
}

// New returns a Service.
func New(sessions Sessions, denylist Denylist, v Verifier, st Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FirstPartyID == "" {
		cfg.FirstPartyID = oauth.DefaultFirstPartyID
	}
	if cfg.OpaqueCache == 0 {
		cfg.OpaqueCache = DefaultOpaqueCache
	}
	return &Service{sessions: sessions, denylist: denylist, verifier: v, st: st, cfg: cfg, opaque: newOpaqueCache(cfg.OpaqueCache)}
}

// Introspect returns the RFC 7662 §2.2 answer about raw for caller. Every
// token that is not active — expired, revoked, unknown, malformed, or
// another client's refresh token — answers exactly {"active": false}. The
// error (wrapping ErrUnavailable) is only for a store that cannot answer.
// Sessions are validated with an empty use: the caller is a resource
// server, whose address is not the user's.
func (s *Service) Introspect(ctx context.Context, caller store.Client, raw string) (protocol.Introspection, error) {
	if !caller.Introspect {
		return protocol.Introspection{}, ErrNotPermitted
	}
	out, kind, err := s.introspect(ctx, caller, raw)
	if err != nil {
		return protocol.Introspection{}, fmt.Errorf("%w: introspection: %w", ErrUnavailable, err)
	}
	if s.cfg.Events != nil {
		e := event.Event{Kind: event.Introspected, ClientID: caller.ID, Active: out.Active, SessionID: out.Sid, JTI: out.Jti}
		if out.Active {
			e.Token = kind
		}
		e.UserID = userOf(out.Sub, out.Sid)
		s.publish(ctx, e)
	}
	return out, nil
}

func (s *Service) introspect(ctx context.Context, caller store.Client, raw string) (protocol.Introspection, string, error) {
	var inactive protocol.Introspection
	switch token.KindOf(raw) {
	case token.JWT:
		c, err := s.live(raw)
		if err != nil || !s.meantFor(c.Audience, caller.Audience) {
			return inactive, "", nil
		}
		// A denylist that cannot be consulted leaves the token's state
		// unknown: an error (503), never "inactive", which a resource
		// server would take as "drop this token".
		denied, err := s.denylist.Denied(ctx, c.ID)
		if err != nil {
			return inactive, "", err
		}
		if denied {
			s.deniedUse(ctx, introspection, c.ID, c.SessionID, c.Subject)
			return inactive, "", nil
		}
		out, err := s.withSession(ctx, protocol.Introspection{Active: true, Scope: c.Scope, ClientID: c.ClientID, TokenType: "Bearer", Exp: c.Expiry,
			Iat: c.IssuedAt, Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, Jti: c.ID, Sid: c.SessionID})
		return out, event.TokenAccess, err
	case token.Access:
		at, err := s.OpaqueAccess(ctx, raw)
		if err != nil || at == nil {
			return inactive, "", err
		}
		out, err := s.withSession(ctx, protocol.Introspection{Active: true, Scope: at.Scope, ClientID: at.ClientID, TokenType: "Bearer",
			Exp: at.ExpiresAt.Unix(), Iat: at.CreatedAt.Unix(), Sub: at.Subject, Aud: s.audience(), Iss: s.cfg.Issuer, Jti: at.ID, Sid: at.SessionID})
		return out, event.TokenAccess, err
	case token.Session:
		sess, err := s.sessions.Validate(ctx, raw, introspection)
		if err != nil {
			return inactive, "", onlyUnavailable(err)
		}
		return withAssurance(protocol.Introspection{Active: true, TokenType: "session", Sub: sess.UserID, Username: sess.Username, Sid: sess.ID,
			Exp: sess.IdleExpiresAt.Unix(), Iat: sess.CreatedAt.Unix(), Iss: s.cfg.Issuer}, sess), event.TokenSession, nil
	case token.Refresh:
		rt, err := s.refreshToken(ctx, raw)
		if err != nil || rt == nil {
			return inactive, "", err
		}
		if rt.ClientID != caller.ID || !rt.UsedAt.IsZero() || !s.cfg.Now().Before(rt.ExpiresAt) {
			return inactive, "", nil
		}
		sess, err := s.sessions.ValidateID(ctx, rt.SessionID, introspection)
		if err != nil {
			return inactive, "", onlyUnavailable(err)
		}
		return withAssurance(protocol.Introspection{Active: true, TokenType: "refresh_token", Scope: rt.Scope, ClientID: rt.ClientID, Sub: sess.UserID,
			Username: sess.Username, Sid: sess.ID, Exp: rt.ExpiresAt.Unix(), Iat: rt.CreatedAt.Unix(), Iss: s.cfg.Issuer}, sess), event.TokenRefresh, nil
	}
	return inactive, "", nil
}

// AccessSession is the session an access token (a JWT or a tsa_ token)
// stands for, for bearer authentication: an access token is worth no more
// than the session it was minted for, so revoking the session stops it at
// once. Errors are session's: ErrInvalid for a token that is not a live
// access token of that session's user (a JWT whose sub is not the
// session's user is forged or misissued, and a client_credentials token
// has no session), the session's own ErrExpired or ErrRevoked, and
// ErrUnavailable when the store cannot answer. u is the use, for the
// session's validation events.
func (s *Service) AccessSession(ctx context.Context, raw string, u session.Use) (session.Session, error) {
	sess, _, err := s.AccessGrant(ctx, raw, u)
	return sess, err
}

// Grant is what an access token presented as a bearer credential was
// issued for: its client and scope.
type Grant struct {
	ClientID string // the first party's own tokens carry Config.FirstPartyID
	Scope    string // space-separated (RFC 6749 §3.3)
}

// AccessGrant is AccessSession with the token's grant, for the checks
// that depend on whom the token was issued to (Permits).
func (s *Service) AccessGrant(ctx context.Context, raw string, u session.Use) (session.Session, Grant, error) {
	a, err := s.Access(ctx, raw, u)
	if err != nil {
		return session.Session{}, Grant{}, err
	}
	// A token restricted to other resources (RFC 8707) is no credential
	// for Tessera's own API.
	if a.Session.ID == "" || !s.meantFor(a.Audience, "") {
		return session.Session{}, Grant{}, session.ErrInvalid
	}
	return a.Session, Grant{ClientID: a.ClientID, Scope: a.Scope}, nil
}

// Access is what a live access token stands for.
type Access struct {
	ClientID, Subject, Scope string
	Audience                 []string
	// Session is the session of a user's token; zero (ID "") for a
	// client_credentials token, whose subject is the client itself.
	Session session.Session
}

// Access checks raw as a bearer access token (a JWT or a tsa_ token) and
// returns what it stands for: a user's token is live only while its
// session is, and a client_credentials token while it is unexpired and
// not revoked. Errors as AccessSession's.
func (s *Service) Access(ctx context.Context, raw string, u session.Use) (Access, error) {
	var a Access
	switch token.KindOf(raw) {
	case token.JWT:
		c, err := s.live(raw)
		if errors.Is(err, accesstoken.ErrExpired) {
			// Signed by us, then expired: a genuine token, not a guess.
			return a, session.ErrExpired
		}
		if err != nil {
			return a, session.ErrInvalid
		}
		// Unknown (the feed cannot be read) fails closed as unavailable
		// (503): the token is not known to be bad, so the client keeps it.
		denied, err := s.denylist.Denied(ctx, c.ID)
		if err != nil {
			return a, fmt.Errorf("%w: %w", session.ErrUnavailable, err)
		}
		if denied {
			s.deniedUse(ctx, u, c.ID, c.SessionID, c.Subject)
			return a, session.ErrInvalid
		}
		a = Access{ClientID: c.ClientID, Subject: c.Subject, Scope: c.Scope, Audience: c.Audience}
		if c.SessionID == "" {
			return a, nil
		}
		sess, err := s.sessionOf(ctx, c.SessionID, c.Subject, u)
		if err != nil {
			return Access{}, err
		}
		a.Session = sess
		return a, nil
	case token.Access:
		at, err := s.OpaqueAccess(ctx, raw)
		if err != nil {
			return a, fmt.Errorf("%w: %w", session.ErrUnavailable, err)
		}
		if at == nil {
			return a, session.ErrInvalid
		}
		a = Access{ClientID: at.ClientID, Subject: at.Subject, Scope: at.Scope}
		if a.ClientID == "" {
			a.ClientID = s.cfg.FirstPartyID // the first party's opaque tokens name no client
		}
		if s.cfg.Audience != "" {
			// Opaque tokens cannot be restricted (RFC 8707): theirs is the
			// default audience, the one their JWT twin would carry.
			a.Audience = []string{s.cfg.Audience}
		}
		if at.SessionID == "" {
			return a, nil
		}
		sess, err := s.sessionOf(ctx, at.SessionID, at.Subject, u)
		if err != nil {
			return Access{}, err
		}
		a.Session = sess
		return a, nil
	}
	return a, session.ErrInvalid
}

// ScopeSessions lets a third-party access token list its user's sessions
// and end them (one, or all but the token's own), which otherwise only the
// user's own credentials may (issue 10, L14): a token a user gave an app
// to read with must not end the user's other sessions.
const ScopeSessions = "sessions"

// FirstParty reports whether g is a grant of Tessera's own login.
func (s *Service) FirstParty(g Grant) bool { return g.ClientID == s.cfg.FirstPartyID }

// Permits reports whether an access token of grant g may do what scope
// guards: the first party's tokens may do everything its session tokens
// may; another client's only what it was granted explicitly. An empty
// scope is for the first party alone.
func (s *Service) Permits(g Grant, scope string) bool {
	return s.FirstParty(g) || scope != "" && slices.Contains(strings.Fields(g.Scope), scope)
}

// onlyUnavailable keeps a session failure only if the store could not
// answer; every other failure means "inactive".
func onlyUnavailable(err error) error {
	if errors.Is(err, session.ErrUnavailable) {
		return err
	}
	return nil
}

// withSession completes an access token's introspection with its session:
// a token whose session has ended is inactive, and the store's silence is
// an error, not "inactive".
// sessionOf is the live session sid of an access token whose subject is
// sub. It is the one subject rule for every access token (JWT or opaque)
// wherever it is presented, as a bearer credential or for introspection:
// a token whose sub is not its session's user is forged or misissued and
// stands for nothing (session.ErrInvalid).
func (s *Service) sessionOf(ctx context.Context, sid, sub string, u session.Use) (session.Session, error) {
	sess, err := s.sessions.ValidateID(ctx, sid, u)
	if err != nil {
		return session.Session{}, err
	}
	if sess.UserID != sub {
		return session.Session{}, session.ErrInvalid
	}
	return sess, nil
}

func (s *Service) withSession(ctx context.Context, out protocol.Introspection) (protocol.Introspection, error) {
	if out.Sid == "" {
		return out, nil
	}
	sess, err := s.sessionOf(ctx, out.Sid, out.Sub, introspection)
	if err != nil {
		return protocol.Introspection{}, onlyUnavailable(err)
	}
	out.Username = sess.Username
	return withAssurance(out, sess), nil
}

// withAssurance adds the session's authentication to an introspection
// answer: auth_time, acr and amr (RFC 9470 §6.2). A session never changes
// them (a step-up renews it into another session), so an access token's
// claims and its session agree — except that a session marked for a
// step-up vouches for no auth_time (session.Vouched): the answer leaves it
// out (a JWT's own claim, minted before the mark, is never repeated here),
// and a resource server applying a max_age asks for a step-up.
func withAssurance(out protocol.Introspection, sess session.Session) protocol.Introspection {
	if at := sess.VouchedAuthTime(); !at.IsZero() {
		out.AuthTime = at.Unix()
	}
	out.ACR, out.AMR = mfa.ACR(sess.AAL), sess.AMR
	return out
}

// live verifies a JWT Tessera itself is asked to honour (introspection, a
// bearer credential): past its exp it is expired here, whatever the
// verifier's leeway, which exists for other verifiers' clocks, not for the
// issuer's own. Revoke keeps the leeway: a token other verifiers still
// accept is still worth denying.
// meantFor reports whether a token with audience aud is meant for the
// resource server audience rs ("" for Tessera's own API, or a resource
// server that names none): an unrestricted token (the default audience) is
// meant for every one; a token restricted with RFC 8707 resources only for
// the resource servers it names, so a token leaked from one app is not
// accepted by every service.
func (s *Service) meantFor(aud accesstoken.Audience, rs string) bool {
	if s.cfg.Audience == "" || aud.Contains(s.cfg.Audience) {
		return true
	}
	return rs != "" && aud.Contains(rs)
}

func (s *Service) live(raw string) (*accesstoken.Claims, error) {
	now := s.cfg.Now()
	c, err := s.verify(raw, now)
	if err != nil {
		return nil, err
	}
	if now.Unix() >= c.Expiry {
		return nil, accesstoken.ErrExpired
	}
	return c, nil
}

func (s *Service) verify(raw string, now time.Time) (*accesstoken.Claims, error) {
	if s.verifier == nil {
		return nil, errors.New("tokenstate: no access-token verifier")
	}
	return s.verifier.Verify(raw, now)
}

// OpaqueAccess looks up a live opaque access token: stored, unexpired,
// not denied. nil if raw is not one; the error is only for a store (or a
// denylist) that cannot answer. The stored record comes from the cache
// when this node has read it before; expiry and denial are checked on
// every call (see opaqueCache). The record is shared: do not modify it.
func (s *Service) OpaqueAccess(ctx context.Context, raw string) (*store.AccessToken, error) {
	tok, err := token.Parse(token.Access, raw)
	if err != nil {
		return nil, nil
	}
	h := tok.Hash()
	now := s.cfg.Now()
	at, cached := s.opaque.get(h)
	if !cached {
		rec, err := s.st.AccessTokenByHash(ctx, h)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		at = &rec
	}
	if !now.Before(at.ExpiresAt) {
		if cached {
			s.opaque.drop(h)
		}
		return nil, nil
	}
	// Unknown (the feed cannot be read) is the store's silence: an error,
	// never "not a live token".
	denied, err := s.denylist.Denied(ctx, at.ID)
	if err != nil {
		return nil, err
	}
	if denied {
		if cached {
			s.opaque.drop(h)
		}
		return nil, nil
	}
	if !cached {
		s.opaque.put(at, now)
	}
	return at, nil
}

// OpaqueCacheLen returns how many opaque access tokens are cached (for
// metrics, benchmarks and tests).
func (s *Service) OpaqueCacheLen() int { return s.opaque.len() }

// refreshToken looks up a stored refresh token; nil if raw is not one.
func (s *Service) refreshToken(ctx context.Context, raw string) (*store.RefreshToken, error) {
	tok, err := token.Parse(token.Refresh, raw)
	if err != nil {
		return nil, nil
	}
	rt, err := s.st.RefreshTokenByHash(ctx, tok.Hash())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &rt, nil
}

// Revoke is RFC 7009 §2.1 for caller (the zero Client: Tessera's own
// first-party login). A refresh token ends its whole family (its
// session); an access token is denied until its expiry, on every node
// through the feed. A token issued to another client is ErrNotYours; a
// token that is invalid, expired or unknown is nothing to revoke and
// succeeds (RFC 7009 §2.2). A session token ends its session: it belongs
// to Tessera's own first-party login, so only its holder presenting it
// with no client (or as the first party) may revoke it, as /v1/logout
// allows; a client that is handed a user's session token is never its
// owner and gets ErrNotYours. The error otherwise wraps ErrUnavailable.
func (s *Service) Revoke(ctx context.Context, caller store.Client, raw string) error {
	owner, err := s.revoke(ctx, caller, raw)
	if !errors.Is(err, ErrNotYours) || caller.SecretHash != nil || owner == "" || owner == s.cfg.FirstPartyID {
		return err
	}
	// An unauthenticated caller holding a confidential client's token:
	// not "yours" but "authenticate" (RFC 7009 §2.1).
	c, lerr := s.st.ClientByID(ctx, owner)
	switch {
	case errors.Is(lerr, store.ErrNotFound):
		return err
	case lerr != nil:
		return fmt.Errorf("%w: client lookup: %w", ErrUnavailable, lerr)
	case c.SecretHash != nil:
		return ErrClientAuthRequired
	}
	return err
}

// revoke is Revoke; with ErrNotYours it also returns the token's client.
func (s *Service) revoke(ctx context.Context, caller store.Client, raw string) (owner string, err error) {
	callerID := caller.ID
	if callerID == "" {
		callerID = s.cfg.FirstPartyID
	}
	switch token.KindOf(raw) {
	case token.JWT:
		c, err := s.verify(raw, s.cfg.Now())
		if err != nil {
			return "", nil // invalid or expired: nothing left to revoke
		}
		return c.ClientID, s.revokeAccess(ctx, callerID, "jwt", store.AccessToken{ID: c.ID, ClientID: c.ClientID, Subject: c.Subject, SessionID: c.SessionID, ExpiresAt: time.Unix(c.Expiry, 0)})
	case token.Access:
		at, err := s.OpaqueAccess(ctx, raw)
		if err != nil {
			return "", fmt.Errorf("%w: access token lookup: %w", ErrUnavailable, err)
		}
		if at == nil {
			return "", nil
		}
		return at.ClientID, s.revokeAccess(ctx, callerID, "opaque", *at)
	case token.Refresh:
		rt, err := s.refreshToken(ctx, raw)
		if err != nil {
			return "", fmt.Errorf("%w: refresh token lookup: %w", ErrUnavailable, err)
		}
		if rt == nil {
			return "", nil
		}
		// Refresh tokens name their client exactly: a first-party one
		// carries "", which only a first-party caller matches.
		if rt.ClientID != caller.ID {
			return rt.ClientID, ErrNotYours
		}
		if _, err := s.sessions.Revoke(ctx, rt.SessionID, "token_revoked"); err != nil && !errors.Is(err, session.ErrNotFound) {
			return "", fmt.Errorf("%w: refresh family revocation: %w", ErrUnavailable, err)
		}
		s.publish(ctx, event.Event{Kind: event.TokenRevoked, Token: event.TokenRefresh, ClientID: rt.ClientID, SessionID: rt.SessionID})
	case token.Session:
		// Validated with an empty use: revoking is not a use of the
		// session, and the caller's address says nothing of the user's.
		sess, err := s.sessions.Validate(ctx, raw, session.Use{Via: event.ViaRevocation})
		if errors.Is(err, session.ErrUnavailable) {
			return "", fmt.Errorf("%w: session lookup: %w", ErrUnavailable, err)
		}
		if err != nil {
			return "", nil // unknown, expired or already ended: nothing to revoke
		}
		// Session tokens are the first party's: a caller that names a
		// client is not their holder.
		if caller.ID != "" {
			return "", ErrNotYours
		}
		if _, err := s.sessions.Revoke(ctx, sess.ID, "token_revoked"); err != nil && !errors.Is(err, session.ErrNotFound) {
			return "", fmt.Errorf("%w: session revocation: %w", ErrUnavailable, err)
		}
		s.publish(ctx, event.Event{Kind: event.TokenRevoked, Token: event.TokenSession, ClientID: s.cfg.FirstPartyID, UserID: sess.UserID, SessionID: sess.ID})
	}
	return "", nil
}

// revokeAccess denies the access token at (its ID, client, subject,
// session and expiry) until it expires, if callerID owns it (RFC 7009
// §2.1). format is "jwt" or "opaque", for the event.
func (s *Service) revokeAccess(ctx context.Context, callerID, format string, at store.AccessToken) error {
	if at.ClientID == "" {
		at.ClientID = s.cfg.FirstPartyID // an opaque token of the first party
	}
	if at.ClientID != callerID {
		return ErrNotYours
	}
	if err := s.denylist.Deny(ctx, at.ID, at.Subject, at.ExpiresAt, "token_revoked"); err != nil {
		return fmt.Errorf("%w: access token revocation: %w", ErrUnavailable, err)
	}
	s.publish(ctx, event.Event{Kind: event.TokenRevoked, Token: event.TokenAccess, Format: format, ClientID: at.ClientID, UserID: userOf(at.Subject, at.SessionID), SessionID: at.SessionID, JTI: at.ID})
	return nil
}

// userOf is an access token's user for events: a client_credentials
// token has no session, and its subject is the client, not a user.
// introspection is the use of a token a client asks about (RFC 7662):
// the client's address is not the token holder's.
var introspection = session.Use{Via: event.ViaIntrospection}

// deniedUse publishes the presentation of a revoked JWT (its jti denied)
// as a refused validation of its session: the holder of a revoked token
// is often the thief who copied it (detection's revoked_token_reuse).
func (s *Service) deniedUse(ctx context.Context, u session.Use, jti, sid, sub string) {
	if s.cfg.Events == nil {
		return
	}
	at := u.At
	if at.IsZero() {
		at = s.cfg.Now().UTC()
	}
	s.publish(ctx, event.Event{Kind: event.SessionValidated, At: at, IP: u.IP, UserAgent: u.UserAgent, Via: u.Via,
		Reason: event.ReasonRevoked, Token: event.TokenAccess, JTI: jti, SessionID: sid, UserID: userOf(sub, sid)})
}

func userOf(sub, sid string) string {
	if sid == "" {
		return ""
	}
	return sub
}

func (s *Service) publish(ctx context.Context, e event.Event) {
	if s.cfg.Events != nil {
		if e.At.IsZero() {
			e.At = s.cfg.Now().UTC()
		}
		s.cfg.Events.Publish(ctx, e)
	}
}

// audience is the "aud" an opaque access token answers with: the one a
// JWT of the same grant carries (RFC 7662 §2.2; a resource server checks
// it is the audience whichever format the client was given).
func (s *Service) audience() accesstoken.Audience {
	if s.cfg.Audience == "" {
		return nil
	}
	return accesstoken.Audience{s.cfg.Audience}
}
