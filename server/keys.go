package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
)

// Keys is the signing keyset as the HTTP layer sees it.
type Keys interface {
	JWKS() jose.JSONWebKeySet
	Rotate(ctx context.Context) (string, error)
	List() []keys.Info
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
	}
}

// handleJWKS publishes the verification keys. Verifiers may cache it for
// five minutes: the next key is published a whole rotation interval before
// it signs, and verifiers refetch on an unknown kid anyway.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	body, err := json.Marshal(s.keys.JWKS())
	if err != nil {
		return errInternal().because(fmt.Errorf("jwks encode failed: %w", err))
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(body)
	return nil
}

type keyJSON struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
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
		out = append(out, j)
	}
	return out
}

func (s *Server) handleAdminKeys(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"keys": keyList(s.keys.List())})
	return nil
}

func (s *Server) handleAdminRotateKeys(w http.ResponseWriter, r *http.Request) error {
	kid, err := s.keys.Rotate(r.Context())
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: key rotation failed: %w", err))
	}
	s.adminAction(r, event.Event{Action: event.ActionKeyRotate, KID: kid})
	writeJSON(w, http.StatusOK, map[string]any{"active_kid": kid, "keys": keyList(s.keys.List())})
	return nil
}
