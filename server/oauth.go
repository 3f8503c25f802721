package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/protocol"
	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
	"github.com/tessera-auth/tessera/tokenstate"
)

// OAuth is the token service as the HTTP layer sees it.
type OAuth interface {
	AuthenticateClient(ctx context.Context, id, secret string) (store.Client, error)
	RegisterClient(ctx context.Context, spec oauth.ClientSpec) (store.Client, string, error)
	IssueForSession(ctx context.Context, g oauth.SessionGrant, sessionExpires time.Time) (oauth.Tokens, error)
	RefreshFrom(ctx context.Context, c store.Client, presented, scope string, resources []string, o oauth.Origin) (oauth.Tokens, error)
	ClientCredentialsFor(ctx context.Context, c store.Client, scope string, resources []string) (oauth.Tokens, error)
	// FirstParty is Tessera's own login as a client (its ID is empty
	// inside); FirstPartyID is its client_id.
	FirstParty() store.Client
	FirstPartyID() string
}

// OAuthConfig is what the OAuth endpoints need to know.
type OAuthConfig struct {
	Issuer    string        // base of every endpoint URL in the metadata
	Audience  string        // "aud" of access tokens (introspection of opaque ones)
	AccessTTL time.Duration // how long a revoked session's access tokens may live
	// Lifetimes of sessions that back refresh tokens.
	SessionIdle, SessionAbsolute time.Duration
	// FeedPoll is how often a revocation-feed long poll re-reads the
	// store when nothing wakes it (see revocation.FeedConfig.Poll); 0: 1 s.
	FeedPoll time.Duration
}

// TokenStore is what the OAuth endpoints read directly.
type TokenStore interface {
	ListClients(ctx context.Context) ([]store.Client, error)
	RefreshTokenByHash(ctx context.Context, h token.Hash) (store.RefreshToken, error)
	Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error)
	ActiveRevocations(ctx context.Context, sessionsSince, now time.Time) ([]store.Revocation, error)
	LastRevocationSeq(ctx context.Context) (int64, error)
	AccessTokenByHash(ctx context.Context, h token.Hash) (store.AccessToken, error)
	ClientByID(ctx context.Context, id string) (store.Client, error)
}

// WithOAuth enables token delivery at login, access-token (JWT) bearer
// credentials, the token, introspection and revocation endpoints, the
// revocation feed, RFC 8414 metadata and client registration.
func (s *Server) WithOAuth(o OAuth, v *accesstoken.Verifier, cfg OAuthConfig, ts TokenStore) *Server {
	s.oauth, s.atVerifier, s.oauthCfg, s.tokenStore = o, v, cfg, ts
	s.clientAdmin, _ = o.(ClientAdmin)
	s.feed = revocation.NewFeed(ts, s.revs, revocation.FeedConfig{AccessTTL: cfg.AccessTTL, Poll: cfg.FeedPoll, Now: s.now})
	s.verified = newVerifiedTokens(100000, func() jose.JSONWebKeySet {
		if s.keys == nil {
			return jose.JSONWebKeySet{}
		}
		return s.keys.JWKS() // the keyset v's keys come from, in every wiring
	})
	var tv tokenstate.Verifier
	if v != nil {
		tv = jwtVerifier{s.verified, v}
	}
	s.tokens = tokenstate.New(s.sessions, s.revs, tv, ts, tokenstate.Config{Issuer: cfg.Issuer, Audience: cfg.Audience, FirstPartyID: o.FirstPartyID(), Events: s.cfg.Events, Now: s.now})
	s.buildForwardAuth() // now with access tokens
	s.flows = s.newFlows()
	return s
}

// jwtVerifier is the verified-token cache in front of the server's
// access-token verifier, as tokenstate sees it.
type jwtVerifier struct {
	cache *verifiedTokens
	v     *accesstoken.Verifier
}

func (j jwtVerifier) Verify(raw string, now time.Time) (*accesstoken.Claims, error) {
	return j.cache.verify(j.v, raw, now)
}

// clientCredentials extracts client authentication: HTTP Basic (RFC 6749
// §2.3.1, form-encoded id and secret) or client_id/client_secret in the
// body, never both.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, basic bool, problem string) {
	h, one := authorization(r.Header)
	if !one {
		return "", "", true, "send one Authorization header, not several"
	}
	if h != "" {
		u, p, ok := r.BasicAuth()
		if !ok {
			return "", "", true, "malformed Authorization header"
		}
		if form.Has("client_secret") {
			return "", "", true, "use one client authentication method, not two"
		}
		var err1, err2 error
		id, err1 = url.QueryUnescape(u)
		secret, err2 = url.QueryUnescape(p)
		if err1 != nil || err2 != nil {
			return "", "", true, "malformed client credentials"
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return "", "", true, "client_id does not match the authenticated client"
		}
		return id, secret, true, ""
	}
	return form.Get("client_id"), form.Get("client_secret"), false, ""
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) error {
	form, msg := readForm(w, r)
	if msg != "" {
		return newTokenError(http.StatusBadRequest, "invalid_request", msg)
	}
	id, secret, basic, msg := clientCredentials(r, form)
	if msg != "" {
		return newTokenError(http.StatusBadRequest, "invalid_request", msg)
	}
	// A client_id alone names a public client (the first party's, which
	// standard libraries send, included); no client_id at all is the
	// first party too, as Tessera's own front ends send it.
	var client store.Client
	if id != "" {
		c, err := s.oauth.AuthenticateClient(r.Context(), id, secret)
		if err != nil {
			return oauthFailure(err, basic)
		}
		client = c
	} else if secret != "" {
		return newTokenError(http.StatusBadRequest, "invalid_request", "client_secret without client_id")
	}
	var toks oauth.Tokens
	var err error
	switch gt := form.Get("grant_type"); gt {
	case "refresh_token":
		rt := form.Get("refresh_token")
		if rt == "" {
			return newTokenError(http.StatusBadRequest, "invalid_request", "refresh_token is required")
		}
		toks, err = s.oauth.RefreshFrom(r.Context(), client, rt, form.Get("scope"), form["resource"], oauth.Origin{IP: s.ips.ClientIP(r), UserAgent: r.UserAgent()})
	case "client_credentials":
		if id == "" {
			return newTokenError(http.StatusUnauthorized, "invalid_client", "client authentication is required")
		}
		toks, err = s.oauth.ClientCredentialsFor(r.Context(), client, form.Get("scope"), form["resource"])
	case "":
		return newTokenError(http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		return newTokenError(http.StatusBadRequest, "unsupported_grant_type", "supported: refresh_token, client_credentials")
	}
	if err != nil {
		return oauthFailure(err, basic)
	}
	writeJSON(w, http.StatusOK, protocol.TokenResponse{AccessToken: toks.AccessToken, TokenType: toks.TokenType, ExpiresIn: toks.ExpiresIn, RefreshToken: toks.RefreshToken, Scope: toks.Scope})
	return nil
}

// oauthFailure is the RFC 6749 §5.2 answer to an oauth failure; basic
// says whether the client tried HTTP authentication.
func oauthFailure(err error, basic bool) *tokenError {
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		return errTemporarilyUnavailable(fmt.Errorf("token endpoint failed: %w", err))
	}
	status := http.StatusBadRequest
	if oe.Code == "invalid_client" {
		// RFC 6749 §5.2: 401 when the client tried HTTP authentication.
		status = http.StatusUnauthorized
		if !basic {
			status = http.StatusBadRequest
		}
	}
	return newTokenError(status, oe.Code, oe.Description)
}

// mountAdminClients mounts client registration, if the server issues tokens.
func (s *Server) mountAdminClients(mux *http.ServeMux) {
	if s.oauth != nil {
		mux.Handle("POST /admin/v1/clients", s.handle(s.handleAdminCreateClient))
		mux.Handle("GET /admin/v1/clients", s.handle(s.handleAdminListClients))
		s.mountAdminClientLifecycle(mux)
	}
}

type clientJSON struct {
	ClientID     string   `json:"client_id"`
	FirstParty   bool     `json:"first_party"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Name         string   `json:"name"`
	Grants       []string `json:"grants"`
	Scopes       []string `json:"scopes"`
	Public       bool     `json:"public"`
	TokenFormat  string   `json:"token_format"`
	Introspect   bool     `json:"introspect"`
	// RevocationFeed: the client may read the revocation feed.
	RevocationFeed bool       `json:"revocation_feed"`
	Resources      []string   `json:"resources"`
	Audience       string     `json:"audience,omitempty"`
	CreatedAt      *time.Time `json:"created_at,omitempty"` // none for the first party
}

func clientOf(c store.Client, secret string) clientJSON {
	out := clientJSON{ClientID: c.ID, ClientSecret: secret, Name: c.Name, Grants: nonNil(c.Grants), Scopes: nonNil(c.Scopes), Public: c.SecretHash == nil, TokenFormat: c.TokenFormat,
		Introspect: c.Introspect, Resources: nonNil(c.Resources), Audience: c.Audience,
		FirstParty: c.FirstParty, RevocationFeed: c.RevocationFeed}
	if !c.CreatedAt.IsZero() {
		out.CreatedAt = &c.CreatedAt
	}
	return out
}

func (s *Server) handleAdminCreateClient(w http.ResponseWriter, r *http.Request) error {
	var req clientMetadata
	if p := decodeJSON(w, r, &req); p != nil {
		return p
	}
	m, public, prob := req.merge()
	if prob != nil {
		return prob
	}
	spec := oauth.ClientSpec{Name: deref(m.Name), Public: public, Secret: req.Secret}
	spec.Grants, spec.Scopes, spec.RedirectURIs = deref(m.Grants), deref(m.Scopes), deref(m.RedirectURIs)
	spec.TokenFormat, spec.AuthMethod = deref(m.TokenFormat), deref(m.AuthMethod)
	spec.Introspect, spec.Resources, spec.Audience = deref(m.Introspect), deref(m.Resources), deref(m.Audience)
	spec.FirstParty, spec.RevocationFeed = deref(m.FirstParty), deref(m.RevocationFeed)
	c, secret, err := s.oauth.RegisterClient(r.Context(), spec)
	if err != nil {
		return clientProblem(err)
	}
	s.adminAction(r, event.Event{Action: event.ActionClientRegister, ClientID: c.ID})
	writeJSON(w, http.StatusCreated, rfcClientOf(c, secret, s.now()))
	return nil
}

func (s *Server) handleAdminListClients(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.tokenStore.ListClients(r.Context())
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: list clients failed: %w", err))
	}
	// The first party is a client like the others (public, refresh
	// tokens only), kept by configuration rather than in the store.
	fp := rfcClientOf(s.oauth.FirstParty(), "", s.now())
	fp.ClientID, fp.ClientName = s.oauth.FirstPartyID(), "Tessera (first-party login)"
	fp.clientJSON.ClientID, fp.Name, fp.FirstParty = fp.ClientID, fp.ClientName, true
	out := make([]rfc7591Client, 0, len(cs)+1)
	out = append(out, fp)
	for _, c := range cs {
		out = append(out, rfcClientOf(c, "", s.now()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"clients": out})
	return nil
}
