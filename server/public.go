package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/protocol"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

func sessionOf(s session.Session) protocol.Session {
	return protocol.Session{
		ID: s.ID, UserID: s.UserID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		IdleExpiresAt: s.IdleExpiresAt, LastSeenAt: s.LastSeenAt, AuthTime: s.AuthTime,
		AMR: nonNil(s.AMR), AAL: s.AAL,
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
}

type loginResponse struct {
	Session      protocol.Session `json:"session"`
	CSRFToken    string           `json:"csrf_token,omitempty"`
	AccessToken  string           `json:"access_token,omitempty"`
	TokenType    string           `json:"token_type,omitempty"`
	ExpiresIn    int64            `json:"expires_in,omitempty"`
	RefreshToken string           `json:"refresh_token,omitempty"`
	Scope        string           `json:"scope,omitempty"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	// Login CSRF: a cross-site page must not log a victim into the attacker's account.
	if !s.sameOrigin(r, false) {
		writeProblem(w, errCSRF("Cross-origin login refused."))
		return
	}
	var req loginRequest
	if p := decodeJSON(w, r, &req); p != nil {
		writeProblem(w, p)
		return
	}
	switch req.Delivery {
	case "", "cookie":
		req.Delivery = "cookie"
	case "token":
		if s.oauth == nil {
			writeProblem(w, newProblem(http.StatusBadRequest, "invalid_field", `Token delivery is not enabled on this server.`))
			return
		}
	default:
		writeProblem(w, newProblem(http.StatusBadRequest, "invalid_field", `Field "delivery" must be "cookie" or "token".`))
		return
	}
	if req.Username == "" || req.Password == "" {
		writeProblem(w, newProblem(http.StatusBadRequest, "missing_field", `Fields "username" and "password" are required.`))
		return
	}
	res, err := s.flows.Login(r.Context(), authflow.Login{Username: req.Username, Password: req.Password, Delivery: authflow.Delivery(req.Delivery), ClientID: req.ClientID}, s.use(r))
	if err != nil {
		writeProblem(w, s.loginProblem(err))
		return
	}
	s.deliver(w, res)
}

// loginProblem maps a failed login or session start to its response.
func (s *Server) loginProblem(err error) *problem {
	var te *authn.ThrottledError
	switch {
	case errors.As(err, &te):
		p := newProblem(http.StatusTooManyRequests, "too_many_attempts", "Too many failed login attempts; try again later.")
		p.retryAfter = te.RetryAfter
		return p
	case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, session.ErrStaleCredentials):
		return newProblem(http.StatusUnauthorized, "invalid_credentials", "The username or password is incorrect.")
	case errors.Is(err, authflow.ErrInvalidClient):
		return newProblem(http.StatusBadRequest, "invalid_client", "Unknown client_id, or not a public client allowed refresh tokens.")
	}
	s.log.Error("login error", "err", err)
	return errUnavailableOr(err)
}

// deliver renders a started session: its token in the cookie, or the
// OAuth tokens in the body.
func (s *Server) deliver(w http.ResponseWriter, res authflow.Result) {
	resp := loginResponse{Session: sessionOf(res.Session)}
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

func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request, p *principal) {
	resp := protocol.Whoami{
		Session: sessionOf(p.session),
		User:    protocol.User{ID: p.session.UserID, Username: p.session.Username},
	}
	if p.fromCookie {
		// Lets a page that was reloaded recover its CSRF token.
		resp.CSRFToken = p.session.CSRFToken
	}
	writeAppended(w, &resp, protocol.AppendWhoami)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, p *principal) {
	if _, err := s.sessions.Revoke(r.Context(), p.session.ID, session.ReasonLogout); err != nil && !errors.Is(err, session.ErrNotFound) {
		s.log.Error("logout failed", "session_id", p.session.ID, "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	s.endBrowserSession(w, p)
	w.WriteHeader(http.StatusNoContent)
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
}

func (s *Server) listItems(ss []store.Session, current string) []sessionListItem {
	out := make([]sessionListItem, 0, len(ss))
	for _, x := range ss {
		out = append(out, sessionListItem{
			ID: x.ID, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt, ExpiresAt: x.ExpiresAt,
			IdleExpiresAt: s.sessions.IdleExpiry(x), IP: x.IP, UserAgent: x.UserAgent,
			AMR: nonNil(x.AMR), AAL: x.AAL, Current: x.ID == current,
		})
	}
	return out
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, p *principal) {
	ss, err := s.sessions.List(r.Context(), p.session.UserID)
	if err != nil {
		s.log.Error("list sessions failed", "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": s.listItems(ss, p.session.ID)})
}

func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request, p *principal) {
	id := r.PathValue("id")
	target, err := s.sessions.Lookup(r.Context(), id)
	// Another user's session answers exactly like a missing one.
	if errors.Is(err, session.ErrNotFound) || (err == nil && target.UserID != p.session.UserID) {
		writeProblem(w, errNotFound())
		return
	}
	if err != nil {
		s.log.Error("revoke lookup failed", "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	if _, err := s.sessions.Revoke(r.Context(), id, session.ReasonUser); err != nil {
		s.log.Error("revoke failed", "session_id", id, "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	if id == p.session.ID {
		s.endBrowserSession(w, p)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleRevokeOthers(w http.ResponseWriter, r *http.Request, p *principal) {
	ids, err := s.sessions.RevokeUser(r.Context(), p.session.UserID, p.session.ID, session.ReasonOthers)
	if err != nil {
		s.log.Error("revoke others failed", "err", err)
		writeProblem(w, errUnavailable())
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"revoked": len(ids)})
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handleChangePassword changes the password and then ends every session of
// the user, this one included, and starts a fresh one for this client: a
// credential change is a privilege change, and a stolen copy of the current
// token must die with the old password.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request, p *principal) {
	var req passwordRequest
	if pr := decodeJSON(w, r, &req); pr != nil {
		writeProblem(w, pr)
		return
	}
	if req.CurrentPassword == "" || req.NewPassword == "" {
		writeProblem(w, newProblem(http.StatusBadRequest, "missing_field", `Fields "current_password" and "new_password" are required.`))
		return
	}
	delivery := authflow.Token
	if p.fromCookie {
		delivery = authflow.Cookie
	}
	res, err := s.flows.ChangePassword(r.Context(), p.session, req.CurrentPassword, req.NewPassword, delivery, s.use(r))
	var pe *password.PolicyError
	var te *authn.ThrottledError
	switch {
	case errors.As(err, &pe):
		writeProblem(w, newProblem(http.StatusBadRequest, pe.Code, pe.Message))
		return
	case errors.As(err, &te):
		pr := newProblem(http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts; try again later.")
		pr.retryAfter = te.RetryAfter
		writeProblem(w, pr)
		return
	case errors.Is(err, session.ErrStaleCredentials):
		writeProblem(w, newProblem(http.StatusUnauthorized, "invalid_credentials", "The username or password is incorrect."))
		return
	case errors.Is(err, authn.ErrInvalidCredentials):
		writeProblem(w, newProblem(http.StatusForbidden, "invalid_credentials", "The current password is incorrect."))
		return
	case err != nil:
		s.log.Error("password change failed", "user_id", p.session.UserID, "err", err)
		writeProblem(w, errUnavailableOr(err))
		return
	}
	s.deliver(w, res)
}
