package oauth

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// RFC 7591 §2 token_endpoint_auth_method values Tessera supports.
const (
	AuthNone        = "none"
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
)

// ReasonClientDeleted is the revocation reason of the tokens of a deleted client.
const ReasonClientDeleted = "client_deleted"

// MaxSecretOverlap bounds how long a rotated-out secret stays valid.
const MaxSecretOverlap = 30 * 24 * time.Hour

// ErrClientNotFound: no client with that id.
var ErrClientNotFound = errors.New("oauth: no such client")

// checkMetadata validates the RFC 7591 fields beyond grants and scopes.
func checkMetadata(spec *ClientSpec) error {
	switch spec.AuthMethod {
	case "":
		spec.AuthMethod = AuthSecretBasic
		if spec.Public {
			spec.AuthMethod = AuthNone
		}
	case AuthNone:
		if !spec.Public {
			return oauthErr("invalid_request", `token_endpoint_auth_method "none" is for public clients only`)
		}
	case AuthSecretBasic, AuthSecretPost:
		if spec.Public {
			return oauthErr("invalid_request", `a public client's token_endpoint_auth_method is "none"`)
		}
	default:
		return oauthErr("invalid_request", fmt.Sprintf("unsupported token_endpoint_auth_method %q", spec.AuthMethod))
	}
	if len(spec.RedirectURIs) > 20 {
		return oauthErr("invalid_redirect_uri", "at most 20 redirect URIs")
	}
	for _, u := range spec.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return err
		}
	}
	return nil
}

// checkRedirectURI applies RFC 6749 §3.1.2 (absolute, no fragment), the
// OAuth 2.0 Security BCP (RFC 9700 §2.1: exact match, so no wildcards; no
// plain http but to a loopback address, RFC 8252 §7.3) and RFC 8252 §7.1
// (a native app's private-use scheme is a reverse domain name, with a dot).
func checkRedirectURI(raw string) error {
	bad := func(why string) error {
		return oauthErr("invalid_redirect_uri", fmt.Sprintf("redirect URI %q: %s", raw, why))
	}
	if len(raw) > 2000 || strings.ContainsAny(raw, " \t\r\n*") {
		return bad("too long, or has spaces or a wildcard")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return bad("not an absolute URI")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("has a fragment")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return bad("has no host")
		}
	case "http":
		h := u.Hostname()
		if a, err := netip.ParseAddr(h); h != "localhost" && (err != nil || !a.IsLoopback()) {
			return bad("plain http is for loopback addresses only")
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return bad("a private-use scheme must be a reverse domain name (com.example.app)")
		}
	}
	return nil
}

// ClientPatch is an update of a client's metadata; nil fields stay.
type ClientPatch struct {
	Name         *string
	Grants       *[]string
	Scopes       *[]string
	TokenFormat  *string
	RedirectURIs *[]string
	AuthMethod   *string
	Introspect   *bool
	Resources    *[]string
	Audience     *string
	FirstParty   *bool
	// RevocationFeed grants or withdraws reading the revocation feed.
	RevocationFeed *bool
}

// Client returns one client.
func (s *Service) Client(ctx context.Context, id string) (store.Client, error) {
	c, err := s.st.ClientByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, ErrClientNotFound
	}
	if err != nil {
		return store.Client{}, fmt.Errorf("oauth: client: %w", err)
	}
	return c, nil
}

// UpdateClient changes a client's metadata under the registration rules.
// A public client stays public and a confidential one confidential: that
// is a different client, registered anew.
func (s *Service) UpdateClient(ctx context.Context, id string, p ClientPatch) (store.Client, error) {
	c, err := s.Client(ctx, id)
	if err != nil {
		return store.Client{}, err
	}
	spec := ClientSpec{Name: c.Name, Grants: c.Grants, Scopes: c.Scopes, Public: c.SecretHash == nil, TokenFormat: c.TokenFormat,
		Introspect: c.Introspect, Resources: c.Resources, Audience: c.Audience, RedirectURIs: c.RedirectURIs, AuthMethod: c.AuthMethod,
		FirstParty: c.FirstParty, RevocationFeed: c.RevocationFeed}
	set := func(dst *[]string, src *[]string) {
		if src != nil {
			*dst = *src
		}
	}
	if p.Name != nil {
		spec.Name = *p.Name
	}
	set(&spec.Grants, p.Grants)
	set(&spec.Scopes, p.Scopes)
	set(&spec.RedirectURIs, p.RedirectURIs)
	if p.TokenFormat != nil {
		spec.TokenFormat = *p.TokenFormat
	}
	if p.AuthMethod != nil {
		spec.AuthMethod = *p.AuthMethod
	}
	set(&spec.Resources, p.Resources)
	if p.Introspect != nil {
		spec.Introspect = *p.Introspect
	}
	if p.Audience != nil {
		spec.Audience = *p.Audience
	}
	if p.FirstParty != nil {
		spec.FirstParty = *p.FirstParty
	}
	if p.RevocationFeed != nil {
		spec.RevocationFeed = *p.RevocationFeed
	}
	if err := checkSpec(&spec); err != nil {
		return store.Client{}, err
	}
	c.Name, c.Grants, c.Scopes, c.TokenFormat, c.RedirectURIs, c.AuthMethod = spec.Name, spec.Grants, spec.Scopes, spec.TokenFormat, spec.RedirectURIs, spec.AuthMethod
	c.Introspect, c.Resources, c.Audience = spec.Introspect, spec.Resources, spec.Audience
	c.FirstParty, c.RevocationFeed = spec.FirstParty, spec.RevocationFeed
	if err := s.st.UpdateClient(ctx, c); err != nil {
		return store.Client{}, s.clientWriteErr(err)
	}
	s.forgetClient(id)
	return c, nil
}

// RotateSecret gives a confidential client a new generated secret. The old
// one stays valid for overlap (0: not at all), so its deployments can move
// over; a rotation during an overlap ends the earlier overlap.
func (s *Service) RotateSecret(ctx context.Context, id string, overlap time.Duration) (store.Client, string, error) {
	if overlap < 0 || overlap > MaxSecretOverlap {
		return store.Client{}, "", oauthErr("invalid_request", fmt.Sprintf("the overlap must be between 0 and %v", MaxSecretOverlap))
	}
	c, err := s.Client(ctx, id)
	if err != nil {
		return store.Client{}, "", err
	}
	if c.SecretHash == nil {
		return store.Client{}, "", oauthErr("invalid_request", "a public client has no secret")
	}
	t, err := token.New(token.ClientSecret)
	if err != nil {
		return store.Client{}, "", fmt.Errorf("oauth: %w", err)
	}
	c.OldSecretHash, c.OldSecretUntil = nil, time.Time{}
	if overlap > 0 {
		c.OldSecretHash, c.OldSecretUntil = c.SecretHash, s.cfg.Now().UTC().Add(overlap).Truncate(time.Microsecond)
	}
	c.SecretHash = s.secretHash(t.Reveal())
	if err := s.st.UpdateClient(ctx, c); err != nil {
		return store.Client{}, "", s.clientWriteErr(err)
	}
	s.forgetClient(id)
	return c, t.Reveal(), nil
}

// DeleteClient removes a client and revokes its tokens: its refresh-token
// families' sessions and its opaque access tokens, with feed entries so
// every node follows. Its JWT access tokens from those sessions are then
// refused by introspection and by every follower of the feed (their
// session is revoked); a client_credentials JWT carries no session and
// lives until its expiry, at most the access-token lifetime.
func (s *Service) DeleteClient(ctx context.Context, id string) (store.ClientDeletion, error) {
	d, err := s.st.DeleteClient(ctx, id, s.cfg.Now().UTC().Truncate(time.Microsecond), ReasonClientDeleted)
	if err != nil {
		return store.ClientDeletion{}, s.clientWriteErr(err)
	}
	s.forgetClient(id)
	if s.cfg.Sessions != nil && len(d.Sessions) > 0 {
		s.cfg.Sessions.Forget(ctx, ReasonClientDeleted, d.Sessions...)
	}
	return d, nil
}

func (s *Service) clientWriteErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrClientNotFound
	case errors.Is(err, store.ErrConflict):
		return oauthErr("invalid_request", "a client with that name exists")
	}
	return fmt.Errorf("oauth: client: %w", err)
}

// forgetClient drops a changed client from this node's cache; other nodes
// see the change within clientCacheTTL.
func (s *Service) forgetClient(id string) {
	s.clientsMu.Lock()
	delete(s.clients, id)
	s.clientsMu.Unlock()
}

// secretMatches compares a presented secret with the current secret and,
// during a rotation's overlap, the previous one: both compared, in
// constant time, whatever the first says.
func (s *Service) secretMatches(c store.Client, secret string) bool {
	h := s.secretHash(secret)
	cur := hmac.Equal(h, c.SecretHash)
	old := c.OldSecretHash != nil && hmac.Equal(h, c.OldSecretHash)
	return cur || old && s.cfg.Now().Before(c.OldSecretUntil)
}
