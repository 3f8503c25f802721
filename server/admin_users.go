package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tessera-auth/tessera/account"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/store"
)

// mountAdminUsers mounts the user lifecycle (package account): a paged,
// filtered list, one user, disable/enable and password reset (PATCH),
// delete, and clearing a user's login throttles.
func (s *Server) mountAdminUsers(mux *http.ServeMux) {
	mux.Handle("GET /admin/v1/users", s.handle(s.handleAdminListUsers))
	mux.Handle("GET /admin/v1/users/{id}", s.handle(s.handleAdminGetUser))
	mux.Handle("PATCH /admin/v1/users/{id}", s.handle(s.handleAdminPatchUser))
	mux.Handle("DELETE /admin/v1/users/{id}", s.handle(s.handleAdminDeleteUser))
	mux.Handle("DELETE /admin/v1/users/{id}/throttles", s.handle(s.handleAdminClearThrottles))
}

// adminUserDetail is one user as the admin API shows it.
type adminUserDetail struct {
	ID                 string     `json:"id"`
	Username           string     `json:"username,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	PasswordChangedAt  time.Time  `json:"password_changed_at"`
	Disabled           bool       `json:"disabled"`
	DisabledAt         *time.Time `json:"disabled_at,omitempty"`
	MustChangePassword bool       `json:"must_change_password"`
	Deleted            bool       `json:"deleted"`
	DeletedAt          *time.Time `json:"deleted_at,omitempty"`
	// Revoked is how many sessions the change ended (PATCH, DELETE).
	Revoked *int `json:"revoked,omitempty"`
}

func userDetail(u store.User) adminUserDetail {
	d := adminUserDetail{ID: u.ID, Username: u.Username, CreatedAt: u.CreatedAt, PasswordChangedAt: u.PasswordChangedAt,
		Disabled: !u.DisabledAt.IsZero(), MustChangePassword: u.MustChangePassword, Deleted: !u.DeletedAt.IsZero()}
	if d.Disabled {
		d.DisabledAt = &u.DisabledAt
	}
	if d.Deleted {
		d.DeletedAt = &u.DeletedAt
		d.Username = "" // a tombstone names nobody
	}
	return d
}

// accountProblem maps a lifecycle failure to its response.
func accountProblem(err error) *problem {
	var pe *password.PolicyError
	switch {
	case errors.Is(err, account.ErrNotFound):
		return newProblem(http.StatusNotFound, "not_found", "No such user.")
	case errors.Is(err, account.ErrDeleted):
		return newProblem(http.StatusConflict, "user_deleted", "The user was deleted; only its id remains.")
	case errors.Is(err, account.ErrBadCursor):
		return newProblem(http.StatusBadRequest, "invalid_cursor", `Parameter "cursor" must be a "next_cursor" from an earlier page.`)
	case errors.As(err, &pe):
		return newProblem(http.StatusBadRequest, pe.Code, pe.Message)
	case errors.Is(err, authn.ErrCannotClear):
		return newProblem(http.StatusNotImplemented, "not_supported", "The login throttles in use cannot clear an account (shared Redis buckets are keyed by a hash of the account and address, so they cannot be found by account); they refill on their own within the throttle window.")
	}
	return errUnavailableOr(err).because(fmt.Errorf("admin: %w", err))
}

// handleAdminListUsers: ?cursor=&limit=&prefix=&disabled=true|false&deleted=true.
func (s *Server) handleAdminListUsers(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	q := account.Query{Cursor: qv.Get("cursor"), Prefix: qv.Get("prefix")}
	if v := qv.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > account.MaxLimit {
			return newProblem(http.StatusBadRequest, "invalid_field", fmt.Sprintf(`Parameter "limit" must be 1 to %d.`, account.MaxLimit))
		}
		q.Limit = n
	}
	if v := qv.Get("disabled"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return newProblem(http.StatusBadRequest, "invalid_field", `Parameter "disabled" must be true or false.`)
		}
		q.Disabled = &b
	}
	if v := qv.Get("deleted"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return newProblem(http.StatusBadRequest, "invalid_field", `Parameter "deleted" must be true or false.`)
		}
		q.Deleted = b
	}
	p, err := s.accounts.List(r.Context(), q)
	if err != nil {
		return accountProblem(err)
	}
	out := make([]adminUserDetail, 0, len(p.Users))
	for _, u := range p.Users {
		out = append(out, userDetail(u))
	}
	body := map[string]any{"users": out}
	if p.Next != "" {
		body["next_cursor"] = p.Next
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) handleAdminGetUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.accounts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return accountProblem(err)
	}
	writeJSON(w, http.StatusOK, userDetail(u))
	return nil
}

type patchUserRequest struct {
	Disabled           *bool   `json:"disabled"`
	Password           *string `json:"password"`
	MustChangePassword bool    `json:"must_change_password"`
}

// handleAdminPatchUser: {"disabled": true|false} disables or enables;
// {"password": "…", "must_change_password": true} resets the password.
// Both may come together: one decision, applied in one transaction
// (account.Update), so a failure leaves the user as it was.
func (s *Server) handleAdminPatchUser(w http.ResponseWriter, r *http.Request) error {
	var req patchUserRequest
	if p := decodeJSON(w, r, &req); p != nil {
		return p
	}
	if req.Disabled == nil && req.Password == nil {
		return newProblem(http.StatusBadRequest, "missing_field", `Give "disabled" or "password".`)
	}
	if req.MustChangePassword && req.Password == nil {
		return newProblem(http.StatusBadRequest, "invalid_field", `"must_change_password" goes with "password".`)
	}
	id := r.PathValue("id")
	res, err := s.accounts.Update(r.Context(), id, account.Change{Disabled: req.Disabled, Password: req.Password, MustChangePassword: req.MustChangePassword})
	if err != nil {
		return accountProblem(err)
	}
	// One event per part; the sessions ended count once, on the part they
	// ended for (a disabling, when there is one).
	disabling := req.Disabled != nil && *req.Disabled
	if req.Password != nil {
		n := res.Revoked
		if disabling {
			n = 0
		}
		s.adminAction(r, event.Event{Action: event.ActionUserPasswordReset, UserID: id, Count: n})
	}
	if req.Disabled != nil {
		action, n := event.ActionUserEnable, 0
		if disabling {
			action, n = event.ActionUserDisable, res.Revoked
		}
		s.adminAction(r, event.Event{Action: action, UserID: id, Count: n})
	}
	out := userDetail(res.User)
	out.Revoked = &res.Revoked
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleAdminDeleteUser(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	res, err := s.accounts.Delete(r.Context(), id)
	if err != nil {
		return accountProblem(err)
	}
	s.adminAction(r, event.Event{Action: event.ActionUserDelete, UserID: id, Count: res.Revoked})
	out := userDetail(res.User)
	out.Revoked = &res.Revoked
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleAdminClearThrottles(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.accounts.ClearThrottles(r.Context(), id); err != nil {
		return accountProblem(err)
	}
	s.adminAction(r, event.Event{Action: event.ActionUserThrottlesClear, UserID: id})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
