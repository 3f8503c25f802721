package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/throttle"
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
	UpdateClient(ctx context.Context, c store.Client) error
	DeleteClient(ctx context.Context, id string, at time.Time, reason string) (store.ClientDeletion, error)
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
	Forget(ctx context.Context, reason string, ids ...string)
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
	// Introspect lets a confidential client call RFC 7662 introspection (a
	// resource server's permission). Off by default.
	Introspect bool
	// Resources are the RFC 8707 resource indicators the client may ask
	// access tokens for (absolute URIs without a fragment); none: its
	// tokens carry Tessera's default audience.
	Resources []string
	// Audience is the resource indicator of the resource server this
	// client is: its introspection sees only tokens meant for it.
	Audience string
	// RedirectURIs (RFC 7591 §2) are validated and stored for the OIDC
	// work; nothing redirects yet.
	RedirectURIs []string
	// AuthMethod is the RFC 7591 token_endpoint_auth_method: AuthNone
	// for a public client (and only for one), AuthSecretBasic (the
	// default) or AuthSecretPost for a confidential one.
	AuthMethod string
	// FirstParty marks the operator's own application, the only kind that
	// may log users in with a password (/v1/login): RFC 9700 §2.4 forbids
	// the password grant, so third-party clients use a redirect flow.
	// Off by default; only an administrator sets it.
	FirstParty bool
	// RevocationFeed lets a confidential client read the revocation feed
	// (a verifier's permission). Off by default.
	RevocationFeed bool
}

// RegisterClient stores a new client and returns it with its secret (shown
// once; only a keyed hash is stored).
func (s *Service) RegisterClient(ctx context.Context, spec ClientSpec) (store.Client, string, error) {
	if err := checkSpec(&spec); err != nil {
		return store.Client{}, "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return store.Client{}, "", fmt.Errorf("oauth: %w", err)
	}
	c := store.Client{ID: id.String(), Name: spec.Name, Grants: spec.Grants, Scopes: spec.Scopes, TokenFormat: spec.TokenFormat, CreatedAt: s.cfg.Now().UTC().Truncate(time.Microsecond),
		Introspect: spec.Introspect, Resources: spec.Resources, Audience: spec.Audience,
		RedirectURIs: spec.RedirectURIs, AuthMethod: spec.AuthMethod, FirstParty: spec.FirstParty, RevocationFeed: spec.RevocationFeed}
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

// checkSpec validates a client's registration and fills its defaults:
// the RFC 7591 metadata rules Tessera enforces.
func checkSpec(spec *ClientSpec) error {
	if spec.Name == "" || len(spec.Name) > 100 {
		return oauthErr("invalid_request", "a client name of 1 to 100 characters is required")
	}
	if len(spec.Grants) == 0 {
		spec.Grants = []string{GrantClientCredentials}
	}
	for _, g := range spec.Grants {
		if g != GrantRefreshToken && g != GrantClientCredentials {
			return oauthErr("invalid_request", fmt.Sprintf("unsupported grant type %q", g))
		}
	}
	if spec.Public && slices.Contains(spec.Grants, GrantClientCredentials) {
		return oauthErr("invalid_request", "a public client cannot use client_credentials")
	}
	for _, sc := range spec.Scopes {
		if !validScopeToken(sc) {
			return oauthErr("invalid_request", fmt.Sprintf("invalid scope %q", sc))
		}
	}
	if spec.Introspect && spec.Public {
		return oauthErr("invalid_request", "a public client cannot introspect")
	}
	if spec.RevocationFeed && spec.Public {
		return oauthErr("invalid_request", "a public client cannot read the revocation feed")
	}
	if len(spec.Resources) > 20 {
		return oauthErr("invalid_request", "at most 20 resources")
	}
	for _, r := range append(slices.Clone(spec.Resources), spec.Audience) {
		if r != "" && !ValidResource(r) {
			return oauthErr("invalid_request", fmt.Sprintf("resource %q must be an absolute URI without a fragment (RFC 8707 §2)", r))
		}
	}
	switch spec.TokenFormat {
	case "":
		spec.TokenFormat = FormatJWT
	case FormatJWT, FormatOpaque:
	default:
		return oauthErr("invalid_request", `token format must be "jwt" or "opaque"`)
	}
	return checkMetadata(spec)
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
	return store.Client{Name: s.cfg.FirstPartyID, Grants: []string{GrantRefreshToken}, TokenFormat: FormatJWT, FirstParty: true}
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
	if !s.secretMatches(c, secret) {
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
	at, ttl, err := s.mint(ctx, event.GrantLogin, g.TokenFormat, g.UserID, g.ClientID, g.Scope, g.SessionID, g.AuthTime, g.AMR, g.AAL, sessionExpires, nil)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: at, TokenType: "Bearer", ExpiresIn: ttl, RefreshToken: rt.Reveal(), Scope: g.Scope}, nil
}

// Origin is where a token request came from: the client's address and
// user agent. A grace retry of a refresh token must come from the
// rotation's origin (see DecideRefresh).
type Origin struct {
	IP        netip.Addr
	UserAgent string
}

// originHash is the Presentation.Origin of o: a hash keyed with the pepper
// (a stored copy reveals neither address nor user agent) of the network
// the address belongs to as the throttles group it (an IPv6 /64) and the
// user agent.
func (s *Service) originHash(o Origin) []byte {
	m := hmac.New(sha256.New, s.cfg.Pepper)
	m.Write([]byte("tessera refresh origin v1\x00"))
	if o.IP.IsValid() {
		m.Write([]byte(throttle.IPKey(o.IP)))
	}
	m.Write([]byte{0})
	m.Write([]byte(o.UserAgent))
	return m.Sum(nil)
}

// Refresh runs the refresh_token grant for client c (RFC 6749 §6) from
// an unknown origin, for no particular resource; see RefreshFrom.
func (s *Service) Refresh(ctx context.Context, c store.Client, presented, scope string) (Tokens, error) {
	return s.RefreshFrom(ctx, c, presented, scope, nil, Origin{})
}

// RefreshFrom runs the refresh_token grant for client c (RFC 6749 §6),
// presented from origin o; resources (RFC 8707), if any, restrict the new
// access token's audience.
func (s *Service) RefreshFrom(ctx context.Context, c store.Client, presented, scope string, resources []string, o Origin) (Tokens, error) {
	if c.ID != "" && !slices.Contains(c.Grants, GrantRefreshToken) {
		return Tokens{}, oauthErr("unauthorized_client", "this client may not use the refresh_token grant")
	}
	aud, err := s.audience(c, resources)
	if err != nil {
		return Tokens{}, err
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
		TTL: s.cfg.Refresh, Grace: s.cfg.Grace, TouchInterval: s.cfg.TouchInterval, Origin: s.originHash(o),
	}
	res, err := s.st.RotateRefreshToken(ctx, old.Hash(), func(st store.RefreshState) store.RefreshPlan { return DecideRefresh(st, p) })
	if errors.Is(err, store.ErrNotFound) {
		return Tokens{}, invalid
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("oauth: rotate: %w", err)
	}
	ev := event.Event{At: s.cfg.Now().UTC(), ClientID: c.ID, UserID: res.Session.UserID, SessionID: res.Session.ID, IP: o.IP, UserAgent: o.UserAgent}
	switch res.Outcome {
	case store.RefreshReused:
		ev.Reason = res.Reason
		if s.cfg.Sessions != nil {
			s.cfg.Sessions.Forget(ctx, ReasonRefreshReuse, res.Session.ID)
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
	// A session marked for a step-up still refreshes (its user is not
	// locked out of what needs no recent authentication), but its access
	// tokens vouch for no auth_time: services applying a max_age answer
	// RFC 9470's challenge until the user re-authenticates.
	authTime := session.Vouched(sess.AuthTime, sess.StepUpRequired())
	at, ttl, err := s.mint(ctx, event.GrantRefreshToken, c.TokenFormat, sess.UserID, c.ID, scope, sess.ID, authTime, sess.AMR, sess.AAL, sess.ExpiresAt, aud)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: at, TokenType: "Bearer", ExpiresIn: ttl, RefreshToken: next.Reveal(), Scope: scope}, nil
}

// ClientCredentials runs the client_credentials grant (RFC 6749 §4.4): an
// access token for the client itself, no refresh token. Requested scopes
// must be a subset of the client's; none requested means all of them.
func (s *Service) ClientCredentials(ctx context.Context, c store.Client, scope string) (Tokens, error) {
	return s.ClientCredentialsFor(ctx, c, scope, nil)
}

// ClientCredentialsFor is ClientCredentials with RFC 8707 resources, which
// restrict the token's audience.
func (s *Service) ClientCredentialsFor(ctx context.Context, c store.Client, scope string, resources []string) (Tokens, error) {
	if !slices.Contains(c.Grants, GrantClientCredentials) || c.SecretHash == nil {
		return Tokens{}, oauthErr("unauthorized_client", "this client may not use the client_credentials grant")
	}
	aud, err := s.audience(c, resources)
	if err != nil {
		return Tokens{}, err
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
	at, ttl, err := s.mint(ctx, event.GrantClientCredentials, c.TokenFormat, c.ID, c.ID, granted, "", time.Time{}, nil, 0, time.Time{}, aud)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: at, TokenType: "Bearer", ExpiresIn: ttl, Scope: granted}, nil
}

// mint issues an access token. until, if not zero, is the session's
// absolute expiry: the token never outlives it, so a verifier that only
// learns of revocations still stops accepting it when the session ends.
// aud, if not empty, replaces the default audience (RFC 8707; checked by
// audience).
func (s *Service) mint(ctx context.Context, grant, format, sub, clientID, scope, sid string, authTime time.Time, amr []string, aal int, until time.Time, aud []string) (string, int64, error) {
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
	audience := accesstoken.Audience{s.cfg.Audience}
	if len(aud) > 0 {
		audience = accesstoken.Audience(aud)
	}
	c := accesstoken.Claims{
		Issuer: s.cfg.Issuer, Subject: sub, Audience: audience,
		Expiry: now.Unix() + int64(life.Seconds()), IssuedAt: now.Unix(), ID: jti.String(),
		ClientID: clientID, Scope: scope, SessionID: sid, AMR: amr,
	}
	if clientID == "" {
		c.ClientID = s.cfg.FirstPartyID
	}
	if !authTime.IsZero() {
		c.AuthTime = authTime.Unix()
	}
	c.ACR = mfa.ACR(aal)
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

// audience checks RFC 8707 resource indicators requested by c: each must
// be one of the client's registered Resources (RFC 8707 §2: otherwise
// invalid_target). It returns them deduplicated, or nil for none. An
// opaque access token has no audience on record, so it cannot be
// restricted: such a request is refused rather than served unrestricted.
func (s *Service) audience(c store.Client, resources []string) ([]string, error) {
	if len(resources) == 0 {
		return nil, nil
	}
	var out []string
	for _, r := range resources {
		if !ValidResource(r) {
			return nil, oauthErr("invalid_target", "a resource must be an absolute URI without a fragment")
		}
		if !slices.Contains(c.Resources, r) {
			return nil, oauthErr("invalid_target", "this client may not request tokens for that resource")
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if c.TokenFormat == FormatOpaque {
		return nil, oauthErr("invalid_target", "audience-restricted tokens are JWTs; this client is configured for opaque tokens")
	}
	return out, nil
}

// ValidResource reports whether r is an RFC 8707 §2 resource indicator:
// an absolute URI (here http or https) without a fragment.
func ValidResource(r string) bool {
	if len(r) > 512 || strings.ContainsAny(r, "# \t\n") {
		return false
	}
	u, err := url.Parse(r)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.Fragment == ""
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
