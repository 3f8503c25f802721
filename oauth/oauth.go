package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// Grant types a client may be allowed.
const (
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Error is an RFC 6749 §5.2 error: Code is the registered error code and
// Description is safe to send to the client. It never holds a token.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string { return "oauth: " + e.Code + ": " + e.Description }

func oauthErr(code, desc string) *Error { return &Error{Code: code, Description: desc} }

// Store is what issuance needs from storage.
type Store interface {
	CreateClient(ctx context.Context, c store.Client) error
	ClientByID(ctx context.Context, id string) (store.Client, error)
	CreateRefreshToken(ctx context.Context, t store.RefreshToken) error
	RotateRefreshToken(ctx context.Context, presented token.Hash, decide func(store.RefreshState) store.RefreshPlan) (store.RefreshResult, error)
	UserByID(ctx context.Context, id string) (store.User, error)
	CreateAccessToken(ctx context.Context, t store.AccessToken) error
}

// Access-token formats a client may be configured for.
const (
	FormatJWT    = "jwt"
	FormatOpaque = "opaque" // tsa_ tokens, validated by introspection
)

// unreserved are RFC 3986's unreserved characters, which form encoding
// leaves as they are.
const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// Signer gives the active signing key.
type Signer interface {
	Active() (*keys.Signer, error)
}

// Config is the token policy.
type Config struct {
	Issuer   string        // "iss" of every access token
	Audience string        // "aud" of every access token
	Access   time.Duration // access-token lifetime
	Refresh  time.Duration // refresh-token lifetime (each rotation starts a new one)
	Grace    time.Duration // refresh retry grace window; 0 disables
	// TouchInterval is how often a refresh writes its session's last-seen
	// time, as policy.session.touch_interval does for every session use;
	// 0 means one minute, that setting's default.
	TouchInterval time.Duration
	// Pepper keys the hash of client secrets, so a copy of the database
	// alone cannot test guesses of a user-chosen secret.
	Pepper []byte
	Now    func() time.Time
	// Events receives event.TokenIssued, RefreshRotated, RefreshGraceRetry
	// and RefreshReused (the theft signal detection rules consume); nil
	// publishes none.
	Events event.Sink
	// Sessions, if set, is this node's session cache, told at once of a
	// session the store revoked on refresh-token reuse.
	Sessions SessionCache
	Logger   *slog.Logger
	// FirstPartyID is the client_id of Tessera's own login (see
	// FirstParty); "" means DefaultFirstPartyID.
	FirstPartyID string
}

// DefaultFirstPartyID is the first party's client_id unless configured.
const DefaultFirstPartyID = "tessera"

// SessionCache is the session manager as issuance sees it. On refresh-token
// reuse the store revokes the family's session inside its own transaction;
// this node must refuse that session from the same moment, not only when
// its feed follower reads the revocation.
type SessionCache interface {
	Forget(reason string, ids ...string)
}

// ReasonRefreshReuse is the revocation reason of a family ended by reuse.
const ReasonRefreshReuse = "refresh_reuse"

// Service issues tokens. Safe for concurrent use.
type Service struct {
	st   Store
	keys Signer
	cfg  Config
	log  *slog.Logger

	// clients caches registrations briefly: every token, introspection and
	// feed request authenticates a client, and registrations change rarely.
	clientsMu sync.RWMutex
	clients   map[string]cachedClient
}

type cachedClient struct {
	c     store.Client
	until time.Time
}

// clientCacheTTL bounds how long a changed registration may go unseen.
const clientCacheTTL = 5 * time.Second

// New returns a service.
func New(st Store, k Signer, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TouchInterval <= 0 {
		cfg.TouchInterval = time.Minute
	}
	if cfg.FirstPartyID == "" {
		cfg.FirstPartyID = DefaultFirstPartyID
	}
	return &Service{st: st, keys: k, cfg: cfg, log: cfg.Logger, clients: map[string]cachedClient{}}
}

// Tokens is what a grant returns (RFC 6749 §5.1).
type Tokens struct {
	AccessToken  string
	TokenType    string
	ExpiresIn    int64
	RefreshToken string // empty for client_credentials
	Scope        string
}

// ClientSpec describes a client to register.
type ClientSpec struct {
	Name   string
	Grants []string
	Scopes []string
	// Public clients (SPAs, mobile apps) have no secret.
	Public bool
	// Secret, if set, is used instead of a generated one. Generated
	// secrets are 256-bit tsc_ tokens; prefer them.
	Secret string
	// TokenFormat is FormatJWT (default) or FormatOpaque.
	TokenFormat string
}

// RegisterClient stores a new client and returns it with its secret (shown
// once; only a keyed hash is stored).
func (s *Service) RegisterClient(ctx context.Context, spec ClientSpec) (store.Client, string, error) {
	if spec.Name == "" || len(spec.Name) > 100 {
		return store.Client{}, "", oauthErr("invalid_request", "a client name of 1 to 100 characters is required")
	}
	if len(spec.Grants) == 0 {
		spec.Grants = []string{GrantClientCredentials}
	}
	for _, g := range spec.Grants {
		if g != GrantRefreshToken && g != GrantClientCredentials {
			return store.Client{}, "", oauthErr("invalid_request", fmt.Sprintf("unsupported grant type %q", g))
		}
	}
	if spec.Public && slices.Contains(spec.Grants, GrantClientCredentials) {
		return store.Client{}, "", oauthErr("invalid_request", "a public client cannot use client_credentials")
	}
	for _, sc := range spec.Scopes {
		if !validScopeToken(sc) {
			return store.Client{}, "", oauthErr("invalid_request", fmt.Sprintf("invalid scope %q", sc))
		}
	}
	switch spec.TokenFormat {
	case "":
		spec.TokenFormat = FormatJWT
	case FormatJWT, FormatOpaque:
	default:
		return store.Client{}, "", oauthErr("invalid_request", `token format must be "jwt" or "opaque"`)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return store.Client{}, "", fmt.Errorf("oauth: %w", err)
	}
	c := store.Client{ID: id.String(), Name: spec.Name, Grants: spec.Grants, Scopes: spec.Scopes, TokenFormat: spec.TokenFormat, CreatedAt: s.cfg.Now().UTC().Truncate(time.Microsecond)}
	secret := ""
	if !spec.Public {
		secret = spec.Secret
		if secret == "" {
			t, err := token.New(token.ClientSecret)
			if err != nil {
				return store.Client{}, "", fmt.Errorf("oauth: %w", err)
			}
			secret = t.Reveal()
		} else if len(secret) < 32 || len(secret) > 512 {
			return store.Client{}, "", oauthErr("invalid_request", "a client secret must be 32 to 512 characters")
		} else if strings.Trim(secret, unreserved) != "" {
			// RFC 6749 §2.3.1 form-encodes the id and secret before HTTP
			// Basic, and many libraries do not: a secret with "+", "%",
			// ":" or a space would authenticate through one and fail
			// through the other. Unreserved characters read the same
			// either way. (Generated tsc_ secrets are base62.)
			return store.Client{}, "", oauthErr("invalid_request", "a client secret may hold only A-Z a-z 0-9 - . _ ~ (RFC 3986 unreserved characters), so that it reads the same form-encoded or not")
		}
		c.SecretHash = s.secretHash(secret)
	}
	if err := s.st.CreateClient(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Client{}, "", oauthErr("invalid_request", "a client with that name exists")
		}
		return store.Client{}, "", fmt.Errorf("oauth: register client: %w", err)
	}
	return c, secret, nil
}

func (s *Service) client(ctx context.Context, id string) (store.Client, error) {
	now := time.Now()
	s.clientsMu.RLock()
	cc, ok := s.clients[id]
	s.clientsMu.RUnlock()
	if ok && now.Before(cc.until) {
		return cc.c, nil
	}
	c, err := s.st.ClientByID(ctx, id)
	if err != nil {
		return store.Client{}, err
	}
	s.clientsMu.Lock()
	if len(s.clients) >= 10000 {
		clear(s.clients)
	}
	s.clients[id] = cachedClient{c: c, until: now.Add(clientCacheTTL)}
	s.clientsMu.Unlock()
	return c, nil
}

func (s *Service) secretHash(secret string) []byte {
	m := hmac.New(sha256.New, s.cfg.Pepper)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// FirstParty is Tessera's own login as a client: public, allowed the
// refresh_token grant, with no scopes. Standard OAuth libraries always
// send a client_id, so the first party has one (Config.FirstPartyID,
// "tessera" by default; its access tokens carry it as client_id), and
// AuthenticateClient answers it like a registered public client. Inside,
// it is the client with the empty ID, as before it had a name: its
// refresh tokens are stored under "", so renaming it orphans no family.
func (s *Service) FirstParty() store.Client {
	return store.Client{Name: s.cfg.FirstPartyID, Grants: []string{GrantRefreshToken}, TokenFormat: FormatJWT}
}

// FirstPartyID is the first party's public client_id.
func (s *Service) FirstPartyID() string { return s.cfg.FirstPartyID }

// AuthenticateClient checks a client's credentials (RFC 6749 §2.3.1). A
// public client authenticates with its id alone, so it must send no secret.
// The first party's id answers FirstParty. Every failure is the same
// invalid_client.
func (s *Service) AuthenticateClient(ctx context.Context, id, secret string) (store.Client, error) {
	bad := oauthErr("invalid_client", "client authentication failed")
	if id == "" || len(id) > 100 || len(secret) > 512 {
		return store.Client{}, bad
	}
	if id == s.cfg.FirstPartyID {
		if secret != "" {
			return store.Client{}, bad
		}
		return s.FirstParty(), nil
	}
	c, err := s.client(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the same hash an existing client would cost.
		hmac.Equal(s.secretHash(secret), make([]byte, sha256.Size))
		return store.Client{}, bad
	}
	if err != nil {
		return store.Client{}, fmt.Errorf("oauth: client lookup: %w", err)
	}
	if c.SecretHash == nil {
		if secret != "" {
			return store.Client{}, bad
		}
		return c, nil
	}
	if !hmac.Equal(s.secretHash(secret), c.SecretHash) {
		return store.Client{}, bad
	}
	return c, nil
}

// SessionGrant is what IssueForSession needs to know of a fresh login.
type SessionGrant struct {
	SessionID, UserID string
	AuthTime          time.Time
	AMR               []string
	AAL               int
	ClientID          string // "" for Tessera's own first-party login
	Scope             string
	TokenFormat       string // the client's; "" means FormatJWT
}

// IssueForSession mints an access token and the first refresh token of
// the session's family.
func (s *Service) IssueForSession(ctx context.Context, g SessionGrant, sessionExpires time.Time) (Tokens, error) {
	rt, err := token.New(token.Refresh)
	if err != nil {
		return Tokens{}, fmt.Errorf("oauth: %w", err)
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	exp := now.Add(s.cfg.Refresh)
	if sessionExpires.Before(exp) {
		exp = sessionExpires
	}
	if err := s.st.CreateRefreshToken(ctx, store.RefreshToken{Hash: rt.Hash(), SessionID: g.SessionID, ClientID: g.ClientID, Scope: g.Scope, CreatedAt: now, ExpiresAt: exp}); err != nil {
		return Tokens{}, fmt.Errorf("oauth: store refresh token: %w", err)
	}
	s.publish(ctx, event.Event{Kind: event.TokenIssued, At: now, Token: event.TokenRefresh, Grant: event.GrantLogin, ClientID: g.ClientID, UserID: g.UserID, SessionID: g.SessionID})
	at, ttl, err := s.mint(ctx, event.GrantLogin, g.TokenFormat, g.UserID, g.ClientID, g.Scope, g.SessionID, g.AuthTime, g.AMR, g.AAL, sessionExpires)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: at, TokenType: "Bearer", ExpiresIn: ttl, RefreshToken: rt.Reveal(), Scope: g.Scope}, nil
}

// Refresh runs the refresh_token grant for client c (RFC 6749 §6).
func (s *Service) Refresh(ctx context.Context, c store.Client, presented, scope string) (Tokens, error) {
	if c.ID != "" && !slices.Contains(c.Grants, GrantRefreshToken) {
		return Tokens{}, oauthErr("unauthorized_client", "this client may not use the refresh_token grant")
	}
	if scope != "" && !validScope(scope) {
		return Tokens{}, oauthErr("invalid_scope", "malformed scope")
	}
	invalid := oauthErr("invalid_grant", "the refresh token is invalid, expired or revoked")
	old, err := token.Parse(token.Refresh, presented)
	if err != nil {
		return Tokens{}, invalid
	}
	next, err := token.New(token.Refresh)
	if err != nil {
		return Tokens{}, fmt.Errorf("oauth: %w", err)
	}
	p := Presentation{
		ClientID: c.ID, Scope: scope, Successor: next.Hash(), Now: s.cfg.Now().UTC().Truncate(time.Microsecond),
		TTL: s.cfg.Refresh, Grace: s.cfg.Grace, TouchInterval: s.cfg.TouchInterval,
	}
	res, err := s.st.RotateRefreshToken(ctx, old.Hash(), func(st store.RefreshState) store.RefreshPlan { return DecideRefresh(st, p) })
	if errors.Is(err, store.ErrNotFound) {
		return Tokens{}, invalid
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("oauth: rotate: %w", err)
	}
	ev := event.Event{At: s.cfg.Now().UTC(), ClientID: c.ID, UserID: res.Session.UserID, SessionID: res.Session.ID}
	switch res.Outcome {
	case store.RefreshReused:
		if s.cfg.Sessions != nil {
			s.cfg.Sessions.Forget(ReasonRefreshReuse, res.Session.ID)
		}
		ev.Kind = event.RefreshReused
		s.publish(ctx, ev)
		return Tokens{}, invalid
	case store.RefreshRefused:
		if res.Reason == ReasonScopeExceeded {
			return Tokens{}, oauthErr("invalid_scope", res.Reason)
		}
		return Tokens{}, invalid
	}
	ev.Kind = event.RefreshRotated
	if res.Outcome == store.RefreshGraceRetry {
		ev.Kind = event.RefreshGraceRetry
	}
	s.publish(ctx, ev)
	ev.Kind, ev.Token, ev.Grant = event.TokenIssued, event.TokenRefresh, event.GrantRefreshToken
	s.publish(ctx, ev)
	sess := res.Session
	// A narrower request narrows this access token, not the family.
	if scope == "" {
		scope = res.Successor.Scope
	}
	at, ttl, err := s.mint(ctx, event.GrantRefreshToken, c.TokenFormat, sess.UserID, c.ID, scope, sess.ID, sess.AuthTime, sess.AMR, sess.AAL, sess.ExpiresAt)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: at, TokenType: "Bearer", ExpiresIn: ttl, RefreshToken: next.Reveal(), Scope: scope}, nil
}

// ClientCredentials runs the client_credentials grant (RFC 6749 §4.4): an
// access token for the client itself, no refresh token. Requested scopes
// must be a subset of the client's; none requested means all of them.
func (s *Service) ClientCredentials(ctx context.Context, c store.Client, scope string) (Tokens, error) {
	if !slices.Contains(c.Grants, GrantClientCredentials) || c.SecretHash == nil {
		return Tokens{}, oauthErr("unauthorized_client", "this client may not use the client_credentials grant")
	}
	granted := strings.Join(c.Scopes, " ")
	if scope != "" {
		if !validScope(scope) {
			return Tokens{}, oauthErr("invalid_scope", "malformed scope")
		}
		for _, sc := range strings.Fields(scope) {
			if !slices.Contains(c.Scopes, sc) {
				return Tokens{}, oauthErr("invalid_scope", fmt.Sprintf("scope %q is not allowed for this client", sc))
			}
		}
		granted = strings.Join(strings.Fields(scope), " ")
	}
	at, ttl, err := s.mint(ctx, event.GrantClientCredentials, c.TokenFormat, c.ID, c.ID, granted, "", time.Time{}, nil, 0, time.Time{})
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: at, TokenType: "Bearer", ExpiresIn: ttl, Scope: granted}, nil
}

// mint issues an access token. until, if not zero, is the session's
// absolute expiry: the token never outlives it, so a verifier that only
// learns of revocations still stops accepting it when the session ends.
func (s *Service) mint(ctx context.Context, grant, format, sub, clientID, scope, sid string, authTime time.Time, amr []string, aal int, until time.Time) (string, int64, error) {
	jti, err := uuid.NewV7()
	if err != nil {
		return "", 0, fmt.Errorf("oauth: %w", err)
	}
	now := s.cfg.Now()
	life := s.cfg.Access
	if !until.IsZero() && until.Sub(now) < life {
		// Whole seconds, rounded down: JWT exp is in seconds, and
		// expires_in must not promise more than the session has.
		life = max(until.Sub(now).Truncate(time.Second), 0)
	}
	if format == FormatOpaque {
		tok, err := token.New(token.Access)
		if err != nil {
			return "", 0, fmt.Errorf("oauth: %w", err)
		}
		at := now.UTC().Truncate(time.Microsecond)
		if err := s.st.CreateAccessToken(ctx, store.AccessToken{Hash: tok.Hash(), ID: jti.String(), ClientID: clientID, Subject: sub,
			Scope: scope, SessionID: sid, CreatedAt: at, ExpiresAt: at.Add(life)}); err != nil {
			return "", 0, fmt.Errorf("oauth: store access token: %w", err)
		}
		s.issued(ctx, now, grant, format, sub, clientID, sid, jti.String())
		return tok.Reveal(), int64(life.Seconds()), nil
	}
	k, err := s.keys.Active()
	if err != nil {
		return "", 0, fmt.Errorf("oauth: %w", err)
	}
	c := accesstoken.Claims{
		Issuer: s.cfg.Issuer, Subject: sub, Audience: accesstoken.Audience{s.cfg.Audience},
		Expiry: now.Unix() + int64(life.Seconds()), IssuedAt: now.Unix(), ID: jti.String(),
		ClientID: clientID, Scope: scope, SessionID: sid, AMR: amr,
	}
	if clientID == "" {
		c.ClientID = s.cfg.FirstPartyID
	}
	if !authTime.IsZero() {
		c.AuthTime = authTime.Unix()
	}
	if aal > 0 {
		c.ACR = fmt.Sprintf("aal%d", aal)
	}
	tok, err := accesstoken.Mint(c, k.KID, k.Alg, k.Key)
	if err != nil {
		return "", 0, err
	}
	s.issued(ctx, now, grant, FormatJWT, sub, clientID, sid, c.ID)
	return tok, int64(life.Seconds()), nil
}

// issued publishes event.TokenIssued for an access token. A
// client_credentials token has no user: its subject is the client.
func (s *Service) issued(ctx context.Context, now time.Time, grant, format, sub, clientID, sid, jti string) {
	if s.cfg.Events == nil {
		return
	}
	e := event.Event{Kind: event.TokenIssued, At: now.UTC(), Token: event.TokenAccess, Format: format, Grant: grant, ClientID: clientID, SessionID: sid, JTI: jti}
	if sid != "" {
		e.UserID = sub
	}
	s.cfg.Events.Publish(ctx, e)
}

func (s *Service) publish(ctx context.Context, e event.Event) {
	if s.cfg.Events != nil {
		s.cfg.Events.Publish(ctx, e)
	}
}

// validScope checks RFC 6749 §3.3 syntax: space-separated NQCHAR tokens.
func validScope(s string) bool {
	if len(s) > 1000 {
		return false
	}
	for _, t := range strings.Split(s, " ") {
		if !validScopeToken(t) {
			return false
		}
	}
	return true
}

func validScopeToken(t string) bool {
	if t == "" || len(t) > 100 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
