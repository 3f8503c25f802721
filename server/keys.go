package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/store"
)

// Keys is the signing keyset as the HTTP layer sees it.
type Keys interface {
	JWKS() jose.JSONWebKeySet
	RotateChecked(ctx context.Context, force bool) (string, error)
	Revoke(ctx context.Context, kid string) (string, error)
	Stored(ctx context.Context) ([]keys.Info, error)
}

// mountJWKS mounts the public JWKS, if the server has keys.
func (s *Server) mountJWKS(mux *http.ServeMux) {
	if s.keys != nil {
		mux.Handle("GET /.well-known/jwks.json", s.handle(s.handleJWKS))
	}
}

// mountAdminKeys mounts the admin key routes, if the server has keys.
func (s *Server) mountAdminKeys(mux *http.ServeMux) {
	if s.keys != nil {
		mux.Handle("GET /admin/v1/keys", s.handle(s.handleAdminKeys))
		mux.Handle("POST /admin/v1/keys/rotate", s.handle(s.handleAdminRotateKeys))
		mux.Handle("POST /admin/v1/keys/{kid}/revoke", s.handle(s.handleAdminRevokeKey))
	}
}

// handleJWKS publishes the verification keys. Verifiers may cache it for
// keys.JWKSMaxAge: a next key signs only once it has been published that
// long (keys.RotationSafeAt), and verifiers refetch on an unknown kid anyway.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	body, err := json.Marshal(s.keys.JWKS())
	if err != nil {
		return errInternal().because(fmt.Errorf("jwks encode failed: %w", err))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", jwksCacheControl)
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(body)
	return nil
}

var jwksCacheControl = "public, max-age=" + strconv.Itoa(int(keys.JWKSMaxAge/time.Second))

type keyJSON struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	Published   bool       `json:"published"`
}

func keyList(in []keys.Info) []keyJSON {
	out := make([]keyJSON, 0, len(in))
	for _, k := range in {
		j := keyJSON{KID: k.KID, Alg: k.Alg, State: k.State, CreatedAt: k.CreatedAt, Published: k.Published}
		if !k.ActivatedAt.IsZero() {
			j.ActivatedAt = &k.ActivatedAt
		}
		if !k.RetiredAt.IsZero() {
			j.RetiredAt = &k.RetiredAt
		}
		if !k.RevokedAt.IsZero() {
			j.RevokedAt = &k.RevokedAt
		}
		out = append(out, j)
	}
	return out
}

// handleAdminKeys lists the keys as the store holds them now: an
// operator deciding whether to rotate must not see this node's copy, which
// may be a reload interval old.
func (s *Server) handleAdminKeys(w http.ResponseWriter, r *http.Request) error {
	infos, err := s.keys.Stored(r.Context())
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: list keys failed: %w", err))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keyList(infos)})
	return nil
}

// handleAdminRotateKeys rotates the signing keys. It refuses (409
// rotation_unsafe, with when it becomes safe) while the next key is too
// recent for verifiers' JWKS caches to hold it, unless ?force=true.
func (s *Server) handleAdminRotateKeys(w http.ResponseWriter, r *http.Request) error {
	force := false
	switch v := r.URL.Query().Get("force"); v {
	case "", "false":
	case "true":
		force = true
	default:
		return newProblem(http.StatusBadRequest, "invalid_field", `"force" must be true or false.`)
	}
	kid, err := s.keys.RotateChecked(r.Context(), force)
	if errors.Is(err, keys.ErrRotationUnsafe) {
		return newProblem(http.StatusConflict, "rotation_unsafe", strings.TrimPrefix(err.Error(), "keys: ")+".")
	}
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: key rotation failed: %w", err))
	}
	s.adminAction(r, event.Event{Action: event.ActionKeyRotate, KID: kid})
	return s.writeKeys(w, r, map[string]any{"active_kid": kid})
}

// handleAdminRevokeKey is emergency key revocation (keys.Keyset.Revoke):
// the key leaves the JWKS now, and the feed entry the store wrote tells
// every node and SDK verifier to refuse what it signed.
func (s *Server) handleAdminRevokeKey(w http.ResponseWriter, r *http.Request) error {
	kid := r.PathValue("kid")
	active, err := s.keys.Revoke(r.Context(), kid)
	if errors.Is(err, store.ErrNotFound) {
		return newProblem(http.StatusNotFound, "not_found", "No such signing key.")
	}
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: key revocation failed: %w", err))
	}
	s.revs.Notify(r.Context()) // other processes read the feed now, not at their next poll
	s.adminAction(r, event.Event{Action: event.ActionKeyRevoke, KID: kid})
	return s.writeKeys(w, r, map[string]any{"revoked_kid": kid, "active_kid": active})
}

func (s *Server) writeKeys(w http.ResponseWriter, r *http.Request, out map[string]any) error {
	infos, err := s.keys.Stored(r.Context())
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: list keys failed: %w", err))
	}
	out["keys"] = keyList(infos)
	writeJSON(w, http.StatusOK, out)
	return nil
}
