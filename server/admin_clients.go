package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
)

// ClientAdmin is the client lifecycle as the admin API sees it
// (*oauth.Service).
type ClientAdmin interface {
	Client(ctx context.Context, id string) (store.Client, error)
	UpdateClient(ctx context.Context, id string, p oauth.ClientPatch) (store.Client, error)
	RotateSecret(ctx context.Context, id string, overlap time.Duration) (store.Client, string, error)
	DeleteClient(ctx context.Context, id string) (store.ClientDeletion, error)
}

// mountAdminClientLifecycle mounts reading, updating, deleting a client
// and rotating its secret.
func (s *Server) mountAdminClientLifecycle(mux *http.ServeMux) {
	if s.clientAdmin == nil {
		return
	}
	mux.Handle("GET /admin/v1/clients/{id}", s.handle(s.handleAdminGetClient))
	mux.Handle("PATCH /admin/v1/clients/{id}", s.handle(s.handleAdminPatchClient))
	mux.Handle("DELETE /admin/v1/clients/{id}", s.handle(s.handleAdminDeleteClient))
	mux.Handle("POST /admin/v1/clients/{id}/secret", s.handle(s.handleAdminRotateSecret))
}

// clientMetadata is a registration request or update in RFC 7591 §2
// names, with Tessera's earlier names accepted as aliases (an alias and
// its RFC name both given must agree).
type clientMetadata struct {
	ClientName   *string   `json:"client_name"`
	GrantTypes   *[]string `json:"grant_types"`
	Scope        *string   `json:"scope"` // space-separated (RFC 7591 §2)
	AuthMethod   *string   `json:"token_endpoint_auth_method"`
	RedirectURIs *[]string `json:"redirect_uris"`
	TokenFormat  *string   `json:"token_format"`
	Introspect   *bool     `json:"introspect"` // RFC 7662 permission (not RFC 7591)
	Resources    *[]string `json:"resources"`  // RFC 8707 indicators it may ask for
	Audience     *string   `json:"audience"`   // the resource it serves
	// FirstParty (an extension of RFC 7591 §2, which allows them) marks
	// the operator's own application, the only kind that may log users
	// in with a password. Only the admin API registers clients, so only
	// an administrator sets it.
	FirstParty *bool `json:"first_party"`
	// RevocationFeed lets a confidential client read GET /v1/revocations.
	RevocationFeed *bool `json:"revocation_feed"`

	Name   *string   `json:"name"`   // alias of client_name
	Grants *[]string `json:"grants"` // alias of grant_types
	Scopes *[]string `json:"scopes"` // alias of scope, as an array
	Public *bool     `json:"public"` // alias of token_endpoint_auth_method "none"
	Secret string    `json:"client_secret"`
}

// UnmarshalJSON refuses a member that is null: every member is a pointer
// so that "left out" means "unchanged", and a null read that way would
// silently ignore an administrator clearing first_party or
// revocation_feed (RFC 7591 §2 gives no meaning to null either).
func (m *clientMetadata) UnmarshalJSON(b []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return err
	}
	for name, v := range members {
		if string(v) == "null" {
			return newProblem(http.StatusBadRequest, "invalid_field", fmt.Sprintf("Field %q must not be null; leave it out to keep it unchanged.", name))
		}
	}
	type plain clientMetadata
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(m))
}

// merge resolves the aliases into one patch; public reports whether the
// request asks for a public client.
func (m clientMetadata) merge() (p oauth.ClientPatch, public bool, prob *problem) {
	conflict := func(a, b string) *problem {
		return newProblem(http.StatusBadRequest, "invalid_client_metadata", fmt.Sprintf("%q and its alias %q disagree; give one.", a, b))
	}
	p.Name, p.Grants, p.TokenFormat, p.RedirectURIs, p.AuthMethod = m.ClientName, m.GrantTypes, m.TokenFormat, m.RedirectURIs, m.AuthMethod
	p.Introspect, p.Resources, p.Audience = m.Introspect, m.Resources, m.Audience
	p.FirstParty, p.RevocationFeed = m.FirstParty, m.RevocationFeed
	if m.Name != nil {
		if p.Name != nil && *p.Name != *m.Name {
			return p, false, conflict("client_name", "name")
		}
		p.Name = m.Name
	}
	if m.Grants != nil {
		if p.Grants != nil && !slices.Equal(*p.Grants, *m.Grants) {
			return p, false, conflict("grant_types", "grants")
		}
		p.Grants = m.Grants
	}
	if m.Scope != nil {
		sc := strings.Fields(*m.Scope)
		p.Scopes = &sc
	}
	if m.Scopes != nil {
		if p.Scopes != nil && !slices.Equal(*p.Scopes, *m.Scopes) {
			return p, false, conflict("scope", "scopes")
		}
		p.Scopes = m.Scopes
	}
	public = p.AuthMethod != nil && *p.AuthMethod == oauth.AuthNone
	if m.Public != nil {
		if p.AuthMethod != nil && public != *m.Public {
			return p, false, conflict("token_endpoint_auth_method", "public")
		}
		public = *m.Public
	}
	return p, public, nil
}

// deref is *p, or the zero value for nil (a field the request left out).
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// rfc7591Client is a client in RFC 7591 §3.2.1 names, with the earlier
// names beside them for existing callers.
type rfc7591Client struct {
	ClientID              string   `json:"client_id"`
	ClientSecret          string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt      int64    `json:"client_id_issued_at,omitempty"`      // none for the first party
	ClientSecretExpiresAt *int64   `json:"client_secret_expires_at,omitempty"` // 0: never (with a secret)
	ClientName            string   `json:"client_name"`
	GrantTypes            []string `json:"grant_types"`
	Scope                 string   `json:"scope"`
	AuthMethod            string   `json:"token_endpoint_auth_method"`
	RedirectURIs          []string `json:"redirect_uris"`
	// OldSecretValidUntil is the end of a rotation's overlap, while the
	// previous secret is still accepted.
	OldSecretValidUntil *time.Time `json:"old_secret_valid_until,omitempty"`

	clientJSON
}

func rfcClientOf(c store.Client, secret string, now time.Time) rfc7591Client {
	out := rfc7591Client{
		ClientID: c.ID, ClientSecret: secret, ClientName: c.Name,
		GrantTypes: nonNil(c.Grants), Scope: strings.Join(c.Scopes, " "), AuthMethod: c.AuthMethod, RedirectURIs: nonNil(c.RedirectURIs),
		clientJSON: clientOf(c, secret),
	}
	if !c.CreatedAt.IsZero() {
		out.ClientIDIssuedAt = c.CreatedAt.Unix()
	}
	if out.AuthMethod == "" { // registered before the method was recorded
		out.AuthMethod = oauth.AuthSecretBasic
		if c.SecretHash == nil {
			out.AuthMethod = oauth.AuthNone
		}
	}
	if secret != "" {
		var never int64
		out.ClientSecretExpiresAt = &never
	}
	if c.OldSecretHash != nil && now.Before(c.OldSecretUntil) {
		out.OldSecretValidUntil = &c.OldSecretUntil
	}
	return out
}

// clientProblem maps a client-lifecycle failure to its response (RFC 7591
// §3.2.2 error codes for bad metadata).
func clientProblem(err error) *problem {
	var oe *oauth.Error
	switch {
	case errors.Is(err, oauth.ErrClientNotFound):
		return newProblem(http.StatusNotFound, "not_found", "No such client.")
	case errors.As(err, &oe) && oe.Code == "invalid_redirect_uri":
		return newProblem(http.StatusBadRequest, "invalid_redirect_uri", oe.Description)
	case errors.As(err, &oe):
		return newProblem(http.StatusBadRequest, "invalid_client_metadata", oe.Description)
	}
	return errUnavailable().because(fmt.Errorf("admin: client: %w", err))
}

func (s *Server) handleAdminGetClient(w http.ResponseWriter, r *http.Request) error {
	c, err := s.clientAdmin.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		return clientProblem(err)
	}
	writeJSON(w, http.StatusOK, rfcClientOf(c, "", s.now()))
	return nil
}

func (s *Server) handleAdminPatchClient(w http.ResponseWriter, r *http.Request) error {
	var req clientMetadata
	if p := decodeJSON(w, r, &req); p != nil {
		return p
	}
	if req.Secret != "" || req.Public != nil {
		return newProblem(http.StatusBadRequest, "invalid_client_metadata", `A client's secret changes through POST /admin/v1/clients/{id}/secret; a public client stays public.`)
	}
	patch, _, prob := req.merge()
	if prob != nil {
		return prob
	}
	id := r.PathValue("id")
	c, err := s.clientAdmin.UpdateClient(r.Context(), id, patch)
	if err != nil {
		return clientProblem(err)
	}
	s.adminAction(r, event.Event{Action: event.ActionClientUpdate, ClientID: id})
	writeJSON(w, http.StatusOK, rfcClientOf(c, "", s.now()))
	return nil
}

func (s *Server) handleAdminDeleteClient(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	d, err := s.clientAdmin.DeleteClient(r.Context(), id)
	if err != nil {
		return clientProblem(err)
	}
	s.adminAction(r, event.Event{Action: event.ActionClientDelete, ClientID: id, Count: len(d.Sessions) + len(d.JTIs)})
	writeJSON(w, http.StatusOK, map[string]int{"revoked_sessions": len(d.Sessions), "revoked_access_tokens": len(d.JTIs)})
	return nil
}

type rotateSecretRequest struct {
	// OverlapSeconds is how long the previous secret stays valid.
	OverlapSeconds int64 `json:"overlap_seconds"`
}

func (s *Server) handleAdminRotateSecret(w http.ResponseWriter, r *http.Request) error {
	var req rotateSecretRequest
	if r.ContentLength != 0 { // no body: no overlap
		if p := decodeJSON(w, r, &req); p != nil {
			return p
		}
	}
	if req.OverlapSeconds < 0 || req.OverlapSeconds > int64(oauth.MaxSecretOverlap/time.Second) {
		return newProblem(http.StatusBadRequest, "invalid_field", fmt.Sprintf(`"overlap_seconds" must be 0 to %d.`, int64(oauth.MaxSecretOverlap/time.Second)))
	}
	id := r.PathValue("id")
	c, secret, err := s.clientAdmin.RotateSecret(r.Context(), id, time.Duration(req.OverlapSeconds)*time.Second)
	if err != nil {
		return clientProblem(err)
	}
	s.adminAction(r, event.Event{Action: event.ActionClientSecretRotate, ClientID: id})
	writeJSON(w, http.StatusOK, rfcClientOf(c, secret, s.now()))
	return nil
}
