package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

type createUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type adminUserJSON struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) handleAdminCreateUser(w http.ResponseWriter, r *http.Request) {
	var req createUserRequest
	if p := decodeJSON(w, r, &req); p != nil {
		writeProblem(w, p)
		return
	}
	u, err := s.authn.CreateUser(r.Context(), req.Username, req.Password)
	var pe *password.PolicyError
	switch {
	case errors.As(err, &pe):
		writeProblem(w, newProblem(http.StatusBadRequest, pe.Code, pe.Message))
		return
	case errors.Is(err, authn.ErrInvalidUsername):
		writeProblem(w, newProblem(http.StatusBadRequest, "invalid_username", "Usernames are 1 to 64 characters of a-z, 0-9 and . _ @ + -."))
		return
	case errors.Is(err, authn.ErrUsernameTaken):
		writeProblem(w, newProblem(http.StatusConflict, "username_taken", "That username is taken."))
		return
	case err != nil:
		s.log.Error("admin: create user failed", "err", err)
		writeProblem(w, errUnavailableOr(err))
		return
	}
	s.adminAction(r, event.Event{Action: event.ActionUserCreate, UserID: u.ID})
	writeJSON(w, http.StatusCreated, adminUserJSON{ID: u.ID, Username: u.Username, CreatedAt: u.CreatedAt})
}

func (s *Server) handleAdminListUsers(w http.ResponseWriter, r *http.Request) {
	us, err := s.st.ListUsers(r.Context())
	if err != nil {
		s.log.Error("admin: list users failed", "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	out := make([]adminUserJSON, 0, len(us))
	for _, u := range us {
		out = append(out, adminUserJSON{ID: u.ID, Username: u.Username, CreatedAt: u.CreatedAt})
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

// userOr404 resolves the {id} path value to an existing user.
func (s *Server) userOr404(w http.ResponseWriter, r *http.Request) (store.User, bool) {
	u, err := s.st.UserByID(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, newProblem(http.StatusNotFound, "not_found", "No such user."))
		return store.User{}, false
	}
	if err != nil {
		s.log.Error("admin: user lookup failed", "err", err)
		writeProblem(w, errUnavailable())
		return store.User{}, false
	}
	return u, true
}

func (s *Server) handleAdminUserSessions(w http.ResponseWriter, r *http.Request) {
	u, ok := s.userOr404(w, r)
	if !ok {
		return
	}
	ss, err := s.sessions.List(r.Context(), u.ID)
	if err != nil {
		s.log.Error("admin: list sessions failed", "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": s.listItems(ss, "")})
}

func (s *Server) handleAdminRevokeUser(w http.ResponseWriter, r *http.Request) {
	u, ok := s.userOr404(w, r)
	if !ok {
		return
	}
	ids, err := s.sessions.RevokeUser(r.Context(), u.ID, "", session.ReasonAdmin)
	if err != nil {
		s.log.Error("admin: revoke user sessions failed", "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	s.adminAction(r, event.Event{Action: event.ActionUserRevoke, UserID: u.ID, Count: len(ids)})
	writeJSON(w, http.StatusOK, map[string]int{"revoked": len(ids)})
}

type adminSessionJSON struct {
	sessionListItem
	UserID       string     `json:"user_id"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

func (s *Server) handleAdminGetSession(w http.ResponseWriter, r *http.Request) {
	x, err := s.sessions.Lookup(r.Context(), r.PathValue("id"))
	if errors.Is(err, session.ErrNotFound) {
		writeProblem(w, errNotFound())
		return
	}
	if err != nil {
		s.log.Error("admin: session lookup failed", "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	out := adminSessionJSON{sessionListItem: s.listItems([]store.Session{x}, "")[0], UserID: x.UserID, RevokeReason: x.RevokeReason}
	if x.Revoked() {
		out.RevokedAt = &x.RevokedAt
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleAdminRevokeSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := s.sessions.Revoke(r.Context(), id, session.ReasonAdmin)
	if errors.Is(err, session.ErrNotFound) {
		writeProblem(w, errNotFound())
		return
	}
	if err != nil {
		s.log.Error("admin: revoke failed", "session_id", id, "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	s.adminAction(r, event.Event{Action: event.ActionSessionRevoke, SessionID: id})
	w.WriteHeader(http.StatusNoContent)
}
