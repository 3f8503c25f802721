package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

// mountAdmin mounts the admin API's users and sessions.
func (s *Server) mountAdmin(mux *http.ServeMux) {
	mux.Handle("POST /admin/v1/users", s.handle(s.handleAdminCreateUser))
	mux.Handle("GET /admin/v1/users/{id}/sessions", s.handle(s.handleAdminUserSessions))
	mux.Handle("DELETE /admin/v1/users/{id}/sessions", s.handle(s.handleAdminRevokeUser))
	mux.Handle("GET /admin/v1/sessions/{id}", s.handle(s.handleAdminGetSession))
	mux.Handle("DELETE /admin/v1/sessions/{id}", s.handle(s.handleAdminRevokeSession))
}

type createUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type adminUserJSON struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) handleAdminCreateUser(w http.ResponseWriter, r *http.Request) error {
	var req createUserRequest
	if p := decodeJSON(w, r, &req); p != nil {
		return p
	}
	u, err := s.authn.CreateUser(r.Context(), req.Username, req.Password)
	var pe *password.PolicyError
	switch {
	case errors.As(err, &pe):
		return newProblem(http.StatusBadRequest, pe.Code, pe.Message)
	case errors.Is(err, authn.ErrInvalidUsername):
		return newProblem(http.StatusBadRequest, "invalid_username", "Usernames are 1 to 64 characters of a-z, 0-9 and . _ @ + -.")
	case errors.Is(err, authn.ErrUsernameTaken):
		return newProblem(http.StatusConflict, "username_taken", "That username is taken.")
	case err != nil:
		return errUnavailableOr(err).because(fmt.Errorf("admin: create user failed: %w", err))
	}
	s.adminAction(r, event.Event{Action: event.ActionUserCreate, UserID: u.ID})
	writeJSON(w, http.StatusCreated, adminUserJSON{ID: u.ID, Username: u.Username, CreatedAt: u.CreatedAt})
	return nil
}

// userOr404 resolves the {id} path value to an existing user.
func (s *Server) userOr404(r *http.Request) (store.User, error) {
	u, err := s.st.UserByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, newProblem(http.StatusNotFound, "not_found", "No such user.")
	}
	if err != nil {
		return store.User{}, errUnavailable().because(fmt.Errorf("admin: user lookup failed: %w", err))
	}
	return u, nil
}

func (s *Server) handleAdminUserSessions(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOr404(r)
	if err != nil {
		return err
	}
	ss, err := s.sessions.List(r.Context(), u.ID)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: list sessions failed: %w", err))
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": s.listItems(ss, "")})
	return nil
}

func (s *Server) handleAdminRevokeUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.userOr404(r)
	if err != nil {
		return err
	}
	ids, err := s.sessions.RevokeUser(r.Context(), u.ID, "", session.ReasonAdmin)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: revoke user sessions failed: %w", err))
	}
	s.adminAction(r, event.Event{Action: event.ActionUserRevoke, UserID: u.ID, Count: len(ids)})
	writeJSON(w, http.StatusOK, map[string]int{"revoked": len(ids)})
	return nil
}

type adminSessionJSON struct {
	sessionListItem
	UserID       string     `json:"user_id"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

func (s *Server) handleAdminGetSession(w http.ResponseWriter, r *http.Request) error {
	x, err := s.sessions.Lookup(r.Context(), r.PathValue("id"))
	if errors.Is(err, session.ErrNotFound) {
		return errNotFound()
	}
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: session lookup failed: %w", err))
	}
	out := adminSessionJSON{sessionListItem: s.listItems([]store.Session{x}, "")[0], UserID: x.UserID, RevokeReason: x.RevokeReason}
	if x.Revoked() {
		out.RevokedAt = &x.RevokedAt
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleAdminRevokeSession(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	_, err := s.sessions.Revoke(r.Context(), id, session.ReasonAdmin)
	if errors.Is(err, session.ErrNotFound) {
		return errNotFound()
	}
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: revoke session %s failed: %w", id, err))
	}
	s.adminAction(r, event.Event{Action: event.ActionSessionRevoke, SessionID: id})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
