package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/protocol"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/tokenstate"
)

// mountSession mounts the session API: login, whoami, logout, the
// user's sessions and password change.
func (s *Server) mountSession(mux *http.ServeMux) {
	mux.Handle("POST /v1/login", s.handle(s.handleLogin))
	mux.Handle("GET /v1/session", s.authed(s.handleWhoami))
	mux.Handle("POST /v1/logout", s.authed(s.handleLogout))
	// Managing the user's sessions takes the user's own credentials or an
	// explicit grant (issue 10, L14); changing the password takes the
	// user's own: its answer is a fresh first-party session, which no other
	// client may be handed.
	mux.Handle("GET /v1/sessions", s.authed(s.permits(tokenstate.ScopeSessions, s.handleListSessions)))
	mux.Handle("DELETE /v1/sessions/{id}", s.authed(s.permits(tokenstate.ScopeSessions, s.handleRevokeSession)))
	mux.Handle("POST /v1/sessions/revoke-others", s.authed(s.permits(tokenstate.ScopeSessions, s.handleRevokeOthers)))
	mux.Handle("POST /v1/password", s.authed(s.permits("", s.handleChangePassword)))
}

func sessionOf(s session.Session) protocol.Session {
	return protocol.Session{
		ID: s.ID, UserID: s.UserID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		IdleExpiresAt: s.IdleExpiresAt, LastSeenAt: s.LastSeenAt, AuthTime: s.AuthTime,
		AMR: nonNil(s.AMR), AAL: s.AAL, StepUpRequired: s.StepUpRequired,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Delivery string `json:"delivery"`
	ClientID string `json:"client_id"`
	// NewPassword answers password_change_required (an administrator's
	// must-change reset).
	NewPassword string `json:"new_password"`
}

type loginResponse struct {
	Session      protocol.Session `json:"session"`
	CSRFToken    string           `json:"csrf_token,omitempty"`
	AccessToken  string           `json:"access_token,omitempty"`
	TokenType    string           `json:"token_type,omitempty"`
	ExpiresIn    int64            `json:"expires_in,omitempty"`
	RefreshToken string           `json:"refresh_token,omitempty"`
	Scope        string           `json:"scope,omitempty"`
	// MFAEnrollmentRequired: MFA is required and the user has no second
	// factor; the session may only enroll one.
	MFAEnrollmentRequired bool `json:"mfa_enrollment_required,omitempty"`
	// RecoveryCodes are sent once, when TOTP enrollment is confirmed.
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
	// Credential is the WebAuthn credential a registration just added.
	Credential *webauthnCredentialJSON `json:"credential,omitempty"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	// Login CSRF: a cross-site page must not log a victim into the attacker's account.
	if !s.sameOrigin(r, false) {
		return errCSRF("Cross-origin login refused.")
	}
	var req loginRequest
	if p := decodeJSON(w, r, &req); p != nil {
		return p
	}
	switch req.Delivery {
	case "", "cookie":
		req.Delivery = "cookie"
	case "token":
		// authflow says so too (ErrNoTokenDelivery); asking first spares an
		// argon2 hash on a request that cannot succeed.
		if s.oauth == nil {
			return newProblem(http.StatusBadRequest, "invalid_field", `Token delivery is not enabled on this server.`)
		}
	default:
		return newProblem(http.StatusBadRequest, "invalid_field", `Field "delivery" must be "cookie" or "token".`)
	}
	if req.Username == "" || req.Password == "" {
		return newProblem(http.StatusBadRequest, "missing_field", `Fields "username" and "password" are required.`)
	}
	// The credential the request carried (presented): a successful login
	// ends the session it stands for; an ambiguous or malformed one is
	// refused before the password is hashed.
	presented, p := s.presented(r)
	if p != nil {
		return p
	}
	res, err := s.flows.Login(r.Context(), authflow.Login{Username: req.Username, Password: req.Password, Delivery: authflow.Delivery(req.Delivery), ClientID: req.ClientID, Presented: presented, NewPassword: req.NewPassword}, s.use(r))
	if err != nil {
		return loginProblem(err)
	}
	if res.MFA != nil {
		s.writeChallenge(w, res.MFA)
		return nil
	}
	s.deliver(w, res)
	return nil
}

// loginProblem maps a failed login or session start to its response.
func loginProblem(err error) *problem {
	var te *authn.ThrottledError
	var pe *password.PolicyError
	switch {
	case errors.As(err, &te):
		p := newProblem(http.StatusTooManyRequests, "too_many_attempts", "Too many failed login attempts; try again later.")
		p.retryAfter = te.RetryAfter
		return p
	case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, session.ErrStaleCredentials):
		return newProblem(http.StatusUnauthorized, "invalid_credentials", "The username or password is incorrect.")
	case errors.Is(err, authn.ErrAccountDisabled):
		return newProblem(http.StatusForbidden, "account_disabled", "This account is disabled; ask an administrator.")
	case errors.Is(err, authn.ErrPasswordChangeRequired):
		return newProblem(http.StatusForbidden, "password_change_required", `An administrator reset this password: log in again with the same fields plus "new_password".`)
	case errors.As(err, &pe):
		return newProblem(http.StatusBadRequest, pe.Code, pe.Message)
	case errors.Is(err, authflow.ErrNoTokenDelivery):
		return newProblem(http.StatusBadRequest, "invalid_field", `Token delivery is not enabled on this server.`)
	case errors.Is(err, authflow.ErrInvalidClient):
		return newProblem(http.StatusBadRequest, "invalid_client", "Unknown client_id, or not a public client allowed refresh tokens.")
	case errors.Is(err, authflow.ErrUnauthorizedClient):
		// RFC 6749 §5.2's code and status for a client not authorized to
		// use this grant: a password login is the password grant, which
		// RFC 9700 §2.4 leaves to the operator's first-party clients.
		return newProblem(http.StatusBadRequest, "unauthorized_client", "This client_id may not log users in with a password: only first-party clients may (RFC 9700 §2.4).")
	}
	return errUnavailableOr(err).because(fmt.Errorf("login: %w", err))
}

// deliver renders a started session: its token in the cookie, or the
// OAuth tokens in the body.
func (s *Server) deliver(w http.ResponseWriter, res authflow.Result) { s.deliverWith(w, res, nil) }

// deliverWith is deliver, with recovery codes in the body.
func (s *Server) deliverWith(w http.ResponseWriter, res authflow.Result, codes []string) {
	s.deliverResponse(w, res, loginResponse{RecoveryCodes: codes})
}

// deliverResponse is deliver, with resp's extra fields in the body.
func (s *Server) deliverResponse(w http.ResponseWriter, res authflow.Result, resp loginResponse) {
	resp.Session, resp.MFAEnrollmentRequired = sessionOf(res.Session), res.EnrollmentRequired
	if res.Delivery == authflow.Token {
		t := res.Tokens
		resp.AccessToken, resp.TokenType, resp.ExpiresIn = t.AccessToken, t.TokenType, t.ExpiresIn
		resp.RefreshToken, resp.Scope = t.RefreshToken, t.Scope
	} else {
		http.SetCookie(w, s.sessionCookie(res.SessionToken.Reveal()))
		resp.CSRFToken = res.CSRFToken
	}
	writeJSON(w, http.StatusOK, resp)
}

func errUnavailableOr(err error) *problem {
	if errors.Is(err, password.ErrBusy) {
		p := newProblem(http.StatusServiceUnavailable, "busy", "The server is busy; try again shortly.")
		p.retryAfter = time.Second
		return p
	}
	return errUnavailable()
}

func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request, p *principal) error {
	resp := protocol.Whoami{
		Session: sessionOf(p.session),
		User:    protocol.User{ID: p.session.UserID, Username: p.session.Username},
	}
	if p.fromCookie {
		// Lets a page that was reloaded recover its CSRF token.
		resp.CSRFToken = p.session.CSRFToken
	}
	writeAppended(w, &resp, protocol.AppendWhoami)
	return nil
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, p *principal) error {
	if _, err := s.sessions.Revoke(r.Context(), p.session.ID, session.ReasonLogout); err != nil && !errors.Is(err, session.ErrNotFound) {
		return errUnavailable().because(fmt.Errorf("logout of session %s failed: %w", p.session.ID, err))
	}
	s.endBrowserSession(w, p)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// endBrowserSession drops the cookie and, for browsers, any state the
// session left behind.
func (s *Server) endBrowserSession(w http.ResponseWriter, p *principal) {
	if p.fromCookie {
		http.SetCookie(w, s.clearCookie())
		w.Header().Set("Clear-Site-Data", `"cache", "cookies", "storage"`)
	}
}

type sessionListItem struct {
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	IP            string    `json:"ip"`
	UserAgent     string    `json:"user_agent"`
	AMR           []string  `json:"amr"`
	AAL           int       `json:"aal"`
	Current       bool      `json:"current"`
	// StepUpRequired: detection marked the session (absent when false).
	StepUpRequired bool `json:"step_up_required,omitempty"`
}

func (s *Server) listItems(ss []store.Session, current string) []sessionListItem {
	out := make([]sessionListItem, 0, len(ss))
	for _, x := range ss {
		out = append(out, sessionListItem{
			ID: x.ID, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt, ExpiresAt: x.ExpiresAt,
			IdleExpiresAt: s.sessions.IdleExpiry(x), IP: x.IP, UserAgent: x.UserAgent,
			AMR: nonNil(x.AMR), AAL: x.AAL, Current: x.ID == current, StepUpRequired: x.StepUpRequired(),
		})
	}
	return out
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, p *principal) error {
	ss, err := s.sessions.List(r.Context(), p.session.UserID)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("list sessions failed: %w", err))
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": s.listItems(ss, p.session.ID)})
	return nil
}

func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	target, err := s.sessions.Lookup(r.Context(), id)
	// Another user's session answers exactly like a missing one.
	if errors.Is(err, session.ErrNotFound) || (err == nil && target.UserID != p.session.UserID) {
		return errNotFound()
	}
	if err != nil {
		return errUnavailable().because(fmt.Errorf("revoke lookup failed: %w", err))
	}
	if id != p.session.ID {
		if err := s.flows.RequireUnmarked(r.Context(), p.session); err != nil {
			return mfaProblem(err)
		}
	}
	if _, err := s.sessions.Revoke(r.Context(), id, session.ReasonUser); err != nil {
		return errUnavailable().because(fmt.Errorf("revoke session %s failed: %w", id, err))
	}
	if id == p.session.ID {
		s.endBrowserSession(w, p)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleRevokeOthers(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := s.flows.RequireUnmarked(r.Context(), p.session); err != nil {
		return mfaProblem(err)
	}
	ids, err := s.sessions.RevokeUser(r.Context(), p.session.UserID, p.session.ID, session.ReasonOthers)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("revoke others failed: %w", err))
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": len(ids)})
	return nil
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handleChangePassword changes the password and then ends every session of
// the user, this one included, and starts a fresh one for this client: a
// credential change is a privilege change, and a stolen copy of the current
// token must die with the old password.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := s.flows.RequireRecent(r.Context(), p.session); err != nil {
		return mfaProblem(err)
	}
	var req passwordRequest
	if pr := decodeJSON(w, r, &req); pr != nil {
		return pr
	}
	if req.CurrentPassword == "" || req.NewPassword == "" {
		return newProblem(http.StatusBadRequest, "missing_field", `Fields "current_password" and "new_password" are required.`)
	}
	res, err := s.flows.ChangePassword(r.Context(), p.session, req.CurrentPassword, req.NewPassword, s.target(r.Context(), p), s.use(r))
	var pe *password.PolicyError
	var te *authn.ThrottledError
	switch {
	case errors.As(err, &pe):
		return newProblem(http.StatusBadRequest, pe.Code, pe.Message)
	case errors.As(err, &te):
		pr := newProblem(http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts; try again later.")
		pr.retryAfter = te.RetryAfter
		return pr
	case errors.Is(err, session.ErrStaleCredentials):
		return newProblem(http.StatusUnauthorized, "invalid_credentials", "The username or password is incorrect.")
	case errors.Is(err, authn.ErrInvalidCredentials):
		return newProblem(http.StatusForbidden, "invalid_credentials", "The current password is incorrect.")
	case err != nil:
		return errUnavailableOr(err).because(fmt.Errorf("password change of user %s failed: %w", p.session.UserID, err))
	}
	s.deliver(w, res)
	return nil
}
