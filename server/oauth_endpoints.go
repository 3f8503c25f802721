package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/protocol"
	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/tokenstate"
)

// mountOAuth mounts the OAuth endpoints, the revocation feed and RFC 8414
// metadata, if the server issues tokens.
func (s *Server) mountOAuth(mux *http.ServeMux) {
	if s.oauth == nil {
		return
	}
	mux.Handle("POST /oauth2/token", s.handle(s.handleToken))
	mux.Handle("POST /oauth2/introspect", s.handle(s.handleIntrospect))
	mux.Handle("POST /oauth2/revoke", s.handle(s.handleRevoke))
	mux.Handle("GET /v1/revocations", s.handle(s.handleRevocations))
	mux.Handle("GET /.well-known/oauth-authorization-server", s.handle(s.handleMetadata))
	// RFC 8414 §3.1: an issuer with a path (https://host/tenant) has its
	// metadata at /.well-known/oauth-authorization-server/tenant, which is
	// where clients that follow the RFC look. The plain path stays: a proxy
	// that strips the issuer's path forwards the RFC 8615 form there.
	if u, err := url.Parse(s.oauthCfg.Issuer); err == nil && u.EscapedPath() != "" && u.EscapedPath() != "/" {
		mux.Handle("GET /.well-known/oauth-authorization-server"+u.EscapedPath(), s.handle(s.handleMetadata))
	}
}

// authenticatedClient authenticates the caller of introspection, revocation
// and the feed. Confidential clients use HTTP Basic or client_secret_post;
// with allowPublic, a client_id alone names a public client, and no
// client_id at all is Tessera's own first-party login ("").
func (s *Server) authenticatedClient(r *http.Request, form map[string][]string, allowPublic bool) (store.Client, error) {
	id, secret, basic, msg := clientCredentials(r, form)
	if msg != "" {
		return store.Client{}, newTokenError(http.StatusBadRequest, "invalid_request", msg)
	}
	if id == "" {
		if allowPublic && secret == "" {
			return store.Client{}, nil
		}
		return store.Client{}, newTokenError(http.StatusUnauthorized, "invalid_client", "client authentication is required")
	}
	if secret == "" && !allowPublic {
		return store.Client{}, newTokenError(http.StatusUnauthorized, "invalid_client", "client authentication is required")
	}
	c, err := s.oauth.AuthenticateClient(r.Context(), id, secret)
	if err != nil {
		return store.Client{}, oauthFailure(err, basic)
	}
	return c, nil
}

// handleIntrospect is RFC 7662. Only confidential clients may ask. Every
// token that is not active — expired, revoked, unknown, malformed, or
// another client's refresh token — answers exactly {"active": false}.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) error {
	form, msg := readForm(w, r)
	if msg != "" {
		return newTokenError(http.StatusBadRequest, "invalid_request", msg)
	}
	caller, err := s.authenticatedClient(r, form, false)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return newTokenError(http.StatusBadRequest, "invalid_request", "token is required")
	}
	// Issue 10, L4: a client (or an address) whose introspections keep
	// finding dead tokens is probing; it waits before it may ask again.
	pu := s.probeUse(r, caller.ID)
	if wait, blocked := s.probes.IntrospectBlocked(pu); blocked {
		return errProbingOAuth(wait)
	}
	out, err := s.tokens.Introspect(r.Context(), caller, raw)
	if errors.Is(err, tokenstate.ErrNotPermitted) {
		// RFC 7662 §2.1 leaves the authorization of callers to the server:
		// introspection is a resource server's permission (issue 10, L3).
		return newTokenError(http.StatusForbidden, "unauthorized_client", "this client may not introspect tokens")
	}
	if err != nil {
		return errTemporarilyUnavailable(fmt.Errorf("introspection failed: %w", err))
	}
	if !out.Active {
		s.probes.IntrospectFailed(r.Context(), pu)
	}
	writeAppended(w, &out, protocol.AppendIntrospection) // RFC 7662 §2.2
	return nil
}

// handleRevoke is RFC 7009: 200 for every well-formed request, whether or
// not the token was valid. A refresh token ends its whole family (session);
// an access token is denied until its expiry, on every node via the feed;
// a session token ends its session (its holder only: no client named).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	form, msg := readForm(w, r)
	if msg != "" {
		return newTokenError(http.StatusBadRequest, "invalid_request", msg)
	}
	caller, err := s.authenticatedClient(r, form, true)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return newTokenError(http.StatusBadRequest, "invalid_request", "token is required")
	}
	switch err := s.tokens.Revoke(r.Context(), caller, raw); {
	case errors.Is(err, tokenstate.ErrClientAuthRequired):
		return newTokenError(http.StatusUnauthorized, "invalid_client", "the token's client must authenticate to revoke it")
	case errors.Is(err, tokenstate.ErrNotYours):
		return newTokenError(http.StatusBadRequest, "unauthorized_client", "the token was not issued to this client")
	case err != nil:
		return errTemporarilyUnavailable(fmt.Errorf("token revocation failed: %w", err))
	}
	h := w.Header()
	h["Cache-Control"], h["Pragma"] = noStore, noCache
	w.WriteHeader(http.StatusOK)
	return nil
}

// handleRevocations is the revocation feed verifiers follow: confidential
// clients with the revocation_feed permission (revocation.Permits). Without
// since, it returns every entry that can still matter; with since, the
// entries after that cursor, waiting up to wait seconds (long poll).
func (s *Server) handleRevocations(w http.ResponseWriter, r *http.Request) error {
	// Client credentials as on /oauth2/*: HTTP Basic, form-urlencoded
	// (RFC 6749 §2.3.1); a GET has no body for client_secret_post.
	id, secret, _, msg := clientCredentials(r, url.Values{})
	if msg != "" || id == "" || secret == "" {
		p := newProblem(http.StatusUnauthorized, "invalid_client", "Authenticate as a registered confidential client (HTTP Basic).")
		p.challenge = `Basic realm="tessera", charset="UTF-8"`
		return p
	}
	c, err := s.oauth.AuthenticateClient(r.Context(), id, secret)
	if err != nil {
		var oe *oauth.Error
		if !errors.As(err, &oe) {
			// The store could not answer: unknown, not bad credentials, or
			// the SDK would take an outage for a wrong secret.
			return errUnavailable().because(fmt.Errorf("revocation feed: client lookup: %w", err))
		}
		p := newProblem(http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
		p.challenge = `Basic realm="tessera", charset="UTF-8"`
		return p
	}
	if !revocation.Permits(c) {
		// Authenticated, but not a verifier: 403, not 401 (new credentials
		// would not help; RFC 9110 §15.5.4), with RFC 6749 §5.2's code
		// for a client not authorized to do this, as introspection.
		return newProblem(http.StatusForbidden, "unauthorized_client", "This client may not read the revocation feed; an administrator grants it the revocation_feed permission.")
	}
	q := r.URL.Query()
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > int(revocation.MaxWait/time.Second) {
			return newProblem(http.StatusBadRequest, "invalid_field", `"wait" must be 0 to 30 seconds.`)
		}
		wait = time.Duration(n) * time.Second
	}
	ctx := r.Context()
	var page revocation.Page
	if v := q.Get("since"); v == "" {
		page, err = s.feed.Window(ctx)
	} else {
		since, perr := revocation.ParseCursor(v)
		if perr != nil {
			return newProblem(http.StatusBadRequest, "invalid_field", `"since" must be a cursor from an earlier answer.`)
		}
		if wait > 0 {
			// The server's write timeout (30 s in serve) would cut a
			// 30-second poll off just before it answers; this request gets
			// the wait plus time to write.
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + 10*time.Second))
		}
		page, err = s.feed.Read(ctx, since, wait)
		if errors.Is(err, revocation.ErrCursorAhead) {
			return newProblem(http.StatusBadRequest, "invalid_field",
				`"since" is ahead of this feed (was the database restored?); read the feed again without it.`)
		}
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil // the client went away while waiting
		}
	}
	if err != nil {
		return errUnavailable().because(fmt.Errorf("revocation feed read failed: %w", err))
	}
	out := make([]protocol.FeedEntry, 0, len(page.Entries))
	for _, e := range page.Entries {
		fe := protocol.FeedEntry{Seq: e.Seq, SID: e.SessionID, JTI: e.JTI, KID: e.KID, At: e.At, Until: e.Until}
		if e.KID != "" {
			fe.Reason = e.Reason // a verifier's operator must learn a key was compromised
		}
		out = append(out, fe)
	}
	writeJSON(w, http.StatusOK, protocol.FeedPage{Cursor: strconv.FormatInt(page.Cursor, 10), Revocations: out})
	return nil
}

// handleMetadata is RFC 8414 authorization server metadata.
func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) error {
	scopes, err := s.scopesSupported(r.Context())
	if err != nil {
		return errUnavailable().because(fmt.Errorf("metadata: %w", err))
	}
	iss := s.oauthCfg.Issuer
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Type", "application/json")
	writeBody(w, map[string]any{
		"issuer":                                iss,
		"token_endpoint":                        iss + "/oauth2/token",
		"introspection_endpoint":                iss + "/oauth2/introspect",
		"revocation_endpoint":                   iss + "/oauth2/revoke",
		"jwks_uri":                              iss + "/.well-known/jwks.json",
		"scopes_supported":                      scopes,
		"grant_types_supported":                 []string{"refresh_token", "client_credentials"},
		"response_types_supported":              []string{},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"tessera_revocations_endpoint":                  iss + "/v1/revocations",
	})
	return nil
}

// scopesSupported is RFC 8414's scopes_supported: the scope Tessera
// itself gives meaning to (tokenstate.ScopeSessions) and every scope a
// registered client may be granted, sorted.
func (s *Server) scopesSupported(ctx context.Context) ([]string, error) {
	cs, err := s.tokenStore.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	scopes := []string{tokenstate.ScopeSessions}
	for _, c := range cs {
		scopes = append(scopes, c.Scopes...)
	}
	slices.Sort(scopes)
	return slices.Compact(scopes), nil
}
