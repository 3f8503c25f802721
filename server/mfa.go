package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
	"github.com/tessera-auth/tessera/tokenstate"
)

// MFA is the second-factor service as the HTTP layer sees it (mfa.Service).
type MFA interface {
	authflow.SecondFactors
	BeginTOTP(ctx context.Context, userID, accountName string) (mfa.Enrollment, error)
	ConfirmTOTP(ctx context.Context, userID, code string, ip netip.Addr) ([]string, error)
	RemoveTOTP(ctx context.Context, userID string) (last bool, err error)
	Status(ctx context.Context, userID string) (mfa.Status, error)
	RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error)
	Reset(ctx context.Context, userID string) error
}

// WithMFA enables second factors: the login challenge and POST
// /v1/login/mfa, TOTP enrollment, recovery codes, step-up, the
// recent-authentication rule and the admin reset. ch stores challenges.
func (s *Server) WithMFA(m MFA, ch authflow.Challenges, p authflow.MFAPolicy) *Server {
	s.mfa, s.challenges, s.mfaPolicy = m, ch, p
	s.flows = s.newFlows()
	return s
}

// newFlows builds the login flows from what the server was given (New,
// WithOAuth, WithMFA in any order).
func (s *Server) newFlows() *authflow.Flows {
	cfg := authflow.Config{Events: s.cfg.Events, Now: s.now, Logger: s.log, MFA: s.mfaPolicy}
	var issuer authflow.Issuer
	if s.oauth != nil {
		issuer = s.oauth
		cfg.TokenIdle, cfg.TokenAbsolute, cfg.Access = s.oauthCfg.SessionIdle, s.oauthCfg.SessionAbsolute, s.tokens
	}
	if s.mfa != nil {
		cfg.Factors, cfg.Challenges = s.mfa, s.challenges
	}
	return authflow.New(s.authn, s.sessions, s.st, issuer, cfg)
}

// mountMFA mounts second factors and step-up. Without WithMFA only
// /v1/reauth (by password) answers; the rest are 404.
func (s *Server) mountMFA(mux *http.ServeMux) {
	mux.Handle("POST /v1/reauth", s.authed(s.firstParty(s.handleReauth)))
	if s.mfa == nil {
		return
	}
	mux.Handle("POST /v1/login/mfa", s.handle(s.handleLoginMFA))
	mux.Handle("GET /v1/mfa", s.authed(s.handleMFAStatus))
	mux.Handle("POST /v1/mfa/totp", s.authed(s.firstParty(s.recent(s.handleTOTPBegin))))
	mux.Handle("POST /v1/mfa/totp/confirm", s.authed(s.firstParty(s.recent(s.handleTOTPConfirm))))
	mux.Handle("DELETE /v1/mfa/totp", s.authed(s.firstParty(s.recent(s.handleTOTPRemove))))
	mux.Handle("POST /v1/mfa/recovery-codes", s.authed(s.firstParty(s.recent(s.handleRecoveryCodes))))
}

// firstParty guards what handles the user's credentials (a step-up's
// password or code, a second factor, recovery codes): a session, or an
// access token of the first party or of a client marked first party
// (authflow.Flows.MayHandleCredentials). A third party's token is
// refused before anything changes, 403 insufficient_scope as permits
// answers: RFC 9700 §2.4 keeps credentials from third parties, and the
// renewal these routes answer with could not be delivered to it anyway.
func (s *Server) firstParty(next func(http.ResponseWriter, *http.Request, *principal) error) func(http.ResponseWriter, *http.Request, *principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if p.grant == nil || s.tokens.FirstParty(*p.grant) || s.flows.MayHandleCredentials(r.Context(), p.grant.ClientID) == nil {
			return next(w, r, p)
		}
		pr := newProblem(http.StatusForbidden, "insufficient_scope", "This needs the user's own login: a session, or a token of a first-party client.")
		pr.challenge = `Bearer realm="tessera", error="insufficient_scope"`
		return pr
	}
}

// enrollmentRoutes are what a session that must still enroll a second
// factor (policy.mfa.mode required) may use.
var enrollmentRoutes = map[string]bool{
	"GET /v1/session": true, "POST /v1/logout": true, "POST /v1/reauth": true,
	"GET /v1/mfa": true, "POST /v1/mfa/totp": true, "POST /v1/mfa/totp/confirm": true,
	"POST /v1/webauthn/register/begin": true, "POST /v1/webauthn/register/finish": true, "GET /v1/webauthn/credentials": true,
}

// enrollmentGate refuses a request of an enrollment-only session outside
// enrollmentRoutes.
func (s *Server) enrollmentGate(r *http.Request, sess session.Session) *problem {
	if s.flows.EnrollmentOnly(sess) && !enrollmentRoutes[r.Pattern] {
		return newProblem(http.StatusForbidden, "mfa_enrollment_required", "A second factor is required: enroll one (POST /v1/mfa/totp) first.")
	}
	return nil
}

// recent admits only sessions that authenticated within the recent-auth
// window (authflow.RequireRecent).
func (s *Server) recent(next func(http.ResponseWriter, *http.Request, *principal) error) func(http.ResponseWriter, *http.Request, *principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if err := s.flows.RequireRecent(r.Context(), p.session); err != nil {
			return mfaProblem(err)
		}
		return next(w, r, p)
	}
}

// target is how a principal holds its session, which a renewal reaches
// the same way: the cookie, or tokens for the client its access token
// was issued to (a bearer session token is the first-party login's).
func (s *Server) target(ctx context.Context, p *principal) authflow.Target {
	if p.fromCookie {
		return authflow.Target{Delivery: authflow.Cookie}
	}
	t := authflow.Target{Delivery: authflow.Token}
	switch token.KindOf(p.access) {
	case token.JWT:
		if s.verified != nil && s.atVerifier != nil {
			if c, err := s.verified.verify(s.atVerifier, p.access, s.now()); err == nil {
				t.ClientID = c.ClientID
			}
		}
	case token.Access:
		if s.tokens != nil {
			if at, err := s.tokens.OpaqueAccess(ctx, p.access); err == nil && at != nil {
				t.ClientID = at.ClientID
			}
		}
	}
	if s.tokens != nil && s.tokens.FirstParty(tokenstate.Grant{ClientID: t.ClientID}) {
		t.ClientID = "" // the first party's own login (its configured client_id)
	}
	return t
}

type mfaChallengeResponse struct {
	MFARequired bool     `json:"mfa_required"`
	MFAToken    string   `json:"mfa_token"`
	Methods     []string `json:"methods"`
	ExpiresIn   int64    `json:"expires_in"`
}

// writeChallenge renders a login that awaits its second factor: 200 and
// no session (API.md).
func (s *Server) writeChallenge(w http.ResponseWriter, c *authflow.Challenge) {
	methods := make([]string, 0, len(c.Methods))
	for _, m := range c.Methods {
		methods = append(methods, string(m))
	}
	writeJSON(w, http.StatusOK, mfaChallengeResponse{
		MFARequired: true, MFAToken: c.Token.Reveal(), Methods: methods,
		ExpiresIn: int64(c.ExpiresAt.Sub(s.now()).Round(time.Second).Seconds()),
	})
}

type loginMFARequest struct {
	MFAToken string `json:"mfa_token"`
	Method   string `json:"method"`
	Code     string `json:"code"`
	Delivery string `json:"delivery"`
	ClientID string `json:"client_id"`
}

func (s *Server) handleLoginMFA(w http.ResponseWriter, r *http.Request) error {
	if !s.sameOrigin(r, false) {
		return errCSRF("Cross-origin login refused.")
	}
	var req loginMFARequest
	if p := decodeJSON(w, r, &req); p != nil {
		return p
	}
	if req.MFAToken == "" || req.Method == "" || req.Code == "" {
		return newProblem(http.StatusBadRequest, "missing_field", `Fields "mfa_token", "method" and "code" are required.`)
	}
	if req.Delivery != "" && req.Delivery != "cookie" && req.Delivery != "token" {
		return newProblem(http.StatusBadRequest, "invalid_field", `Field "delivery" must be "cookie" or "token".`)
	}
	presented, p := s.presented(r)
	if p != nil {
		return p
	}
	res, err := s.flows.CompleteMFA(r.Context(), authflow.SecondFactor{
		MFAToken: req.MFAToken, Method: mfa.Method(req.Method), Code: req.Code,
		Delivery: authflow.Delivery(req.Delivery), ClientID: req.ClientID, Presented: presented,
	}, s.use(r))
	if err != nil {
		return mfaProblem(err)
	}
	s.deliver(w, res)
	return nil
}

// presented is the credential a login request carried: a successful
// login ends the session it stands for (ASVS 5.0 7.2.4). It is read by the
// one rule (credential): an ambiguous or malformed one is refused before
// any password or code is checked.
func (s *Server) presented(r *http.Request) ([]string, *problem) {
	c, p := s.credential(r.Header)
	if p != nil || c.raw == "" {
		return nil, p
	}
	return []string{c.raw}, nil
}

type reauthRequest struct {
	Method   string `json:"method"`
	Password string `json:"password"`
	Code     string `json:"code"`
	// Credential answers POST /v1/webauthn/reauth/begin (method webauthn).
	Credential json.RawMessage `json:"credential"`
}

// handleReauth is step-up: re-prove the password or a second factor;
// the session is renewed (new token, new CSRF token, auth_time now, the
// AAL possibly raised) and the old one revoked.
func (s *Server) handleReauth(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req reauthRequest
	if pr := decodeJSON(w, r, &req); pr != nil {
		return pr
	}
	if req.Method == string(mfa.WebAuthn) {
		return s.reauthWebAuthn(w, r, p, req.Credential)
	}
	switch {
	case req.Method == string(mfa.Password) && req.Password == "",
		req.Method != string(mfa.Password) && req.Code == "":
		return newProblem(http.StatusBadRequest, "missing_field", `Field "method" and its "password" or "code" are required.`)
	}
	res, err := s.flows.Reauth(r.Context(), p.session, authflow.Reauth{Method: mfa.Method(req.Method), Password: req.Password, Code: req.Code}, s.target(r.Context(), p), s.use(r))
	if err != nil {
		return reauthProblem(err)
	}
	s.deliver(w, res)
	return nil
}

// reauthProblem: a wrong password or code on a live session is 403, not
// 401, so a client does not take it for a dead session.
func reauthProblem(err error) error {
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials):
		return newProblem(http.StatusForbidden, "invalid_credentials", "The password is incorrect.")
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrReplay), errors.Is(err, mfa.ErrNotEnrolled):
		return newProblem(http.StatusForbidden, "invalid_code", "The code is incorrect or was already used.")
	}
	return mfaProblem(err)
}

// mfaProblem maps the second-factor and step-up errors to responses;
// anything else is a login's.
func mfaProblem(err error) error {
	var te *mfa.ThrottledError
	var su *authflow.StepUpError
	switch {
	case errors.As(err, &su):
		return stepUpProblem(su)
	case errors.Is(err, session.ErrRevoked), errors.Is(err, session.ErrInvalid):
		// Ended while the request was on its way (RequireRecent).
		return errInvalidToken()
	case errors.As(err, &te):
		p := newProblem(http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts; try again later.")
		p.retryAfter = te.RetryAfter
		return p
	case errors.Is(err, authflow.ErrChallenge):
		return newProblem(http.StatusUnauthorized, "invalid_mfa_token", "The mfa_token is invalid, expired, used or out of attempts; log in again.")
	case errors.Is(err, authflow.ErrMethodNotAllowed):
		return newProblem(http.StatusBadRequest, "invalid_method", "That second-factor method is not allowed here.")
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrReplay), errors.Is(err, mfa.ErrNotEnrolled):
		return newProblem(http.StatusUnauthorized, "invalid_code", "The code is incorrect or was already used.")
	}
	return loginProblem(err)
}

// stepUpProblem is RFC 9470 §3's challenge: 401 with
// error="insufficient_user_authentication" and the max_age (and
// acr_values) that would do.
func stepUpProblem(su *authflow.StepUpError) *problem {
	p := newProblem(http.StatusUnauthorized, "insufficient_user_authentication",
		"This action needs a more recent authentication: re-authenticate (POST /v1/reauth) and retry.")
	p.bearer = "insufficient_user_authentication"
	p.bearerParams = `, error_description="A more recent authentication is required", max_age=` + strconv.Itoa(int(su.MaxAge/time.Second))
	if su.ACR != "" {
		p.bearerParams += `, acr_values="` + su.ACR + `"`
	}
	return p
}

type mfaStatusResponse struct {
	TOTP struct {
		Enabled     bool       `json:"enabled"`
		Pending     bool       `json:"pending"`
		ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	} `json:"totp"`
	RecoveryCodesRemaining int      `json:"recovery_codes_remaining"`
	Methods                []string `json:"methods"`
	MFARequired            bool     `json:"mfa_required"`
}

func (s *Server) handleMFAStatus(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.mfa.Status(r.Context(), p.session.UserID)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("mfa status of user %s: %w", p.session.UserID, err))
	}
	var resp mfaStatusResponse
	resp.TOTP.Enabled, resp.TOTP.Pending = st.TOTP, st.TOTPPending
	if st.TOTP {
		resp.TOTP.ConfirmedAt = &st.TOTPConfirmedAt
	}
	resp.RecoveryCodesRemaining, resp.MFARequired = st.RecoveryCodesLeft, s.mfaPolicy.Required
	resp.Methods = []string{}
	for _, m := range st.Methods {
		resp.Methods = append(resp.Methods, string(m))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

type totpEnrollResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRPNG      string `json:"qr_png"` // base64 (standard alphabet, padded)
}

func (s *Server) handleTOTPBegin(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.mfa.BeginTOTP(r.Context(), p.session.UserID, p.session.Username)
	switch {
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		return newProblem(http.StatusConflict, "already_enrolled", "TOTP is already enrolled; remove it first.")
	case err != nil:
		return errUnavailable().because(fmt.Errorf("totp enrollment of user %s: %w", p.session.UserID, err))
	}
	writeJSON(w, http.StatusOK, totpEnrollResponse{Secret: e.Secret, OTPAuthURI: e.URI, QRPNG: base64.StdEncoding.EncodeToString(e.QRPNG)})
	return nil
}

type codeRequest struct {
	Code string `json:"code"`
}

// handleTOTPConfirm activates TOTP, returns the recovery codes, and
// renews the session: it has just proven a second factor (a privilege
// change), so it now carries otp and AAL2 under a new token.
func (s *Server) handleTOTPConfirm(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req codeRequest
	if pr := decodeJSON(w, r, &req); pr != nil {
		return pr
	}
	if req.Code == "" {
		return newProblem(http.StatusBadRequest, "missing_field", `Field "code" is required.`)
	}
	codes, err := s.mfa.ConfirmTOTP(r.Context(), p.session.UserID, req.Code, s.ips.ClientIP(r))
	switch {
	case errors.Is(err, mfa.ErrNotEnrolled):
		return newProblem(http.StatusConflict, "no_pending_enrollment", "Start a TOTP enrollment (POST /v1/mfa/totp) first.")
	case errors.Is(err, mfa.ErrAlreadyEnrolled):
		return newProblem(http.StatusConflict, "already_enrolled", "TOTP is already enrolled.")
	case errors.Is(err, mfa.ErrInvalidCode):
		return newProblem(http.StatusForbidden, "invalid_code", "The code is incorrect.")
	case err != nil:
		return mfaProblem(err)
	}
	res, err := s.flows.StepUp(r.Context(), p.session, mfa.Proof{Method: mfa.TOTP, AMR: []string{mfa.AMROTP}}, s.target(r.Context(), p), s.use(r))
	if err != nil {
		// TOTP is on; the codes are lost with this answer and can be
		// regenerated after the next login.
		return errUnavailableOr(err).because(fmt.Errorf("renewing the session after totp enrollment: %w", err))
	}
	s.deliverWith(w, res, codes)
	return nil
}

// handleTOTPRemove removes TOTP and then ends every session of the user
// and starts a fresh one for this client, without the removed factor's
// amr: the sessions that relied on the factor must not outlive it.
func (s *Server) handleTOTPRemove(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, err := s.mfa.RemoveTOTP(r.Context(), p.session.UserID)
	switch {
	case errors.Is(err, mfa.ErrNotEnrolled):
		return errNotFound()
	case err != nil:
		return errUnavailable().because(fmt.Errorf("removing totp of user %s: %w", p.session.UserID, err))
	}
	res, err := s.flows.RenewAfterReset(r.Context(), p.session, session.ReasonMFAReset, []string{mfa.AMROTP}, s.target(r.Context(), p), s.use(r))
	if err != nil {
		return errUnavailableOr(err).because(fmt.Errorf("revoking sessions after totp removal: %w", err))
	}
	s.deliver(w, res)
	return nil
}

func (s *Server) handleRecoveryCodes(w http.ResponseWriter, r *http.Request, p *principal) error {
	codes, err := s.mfa.RegenerateRecoveryCodes(r.Context(), p.session.UserID)
	switch {
	case errors.Is(err, mfa.ErrNotEnrolled):
		return newProblem(http.StatusConflict, "not_enrolled", "Recovery codes need a second factor; enroll one first.")
	case err != nil:
		return errUnavailable().because(fmt.Errorf("regenerating recovery codes of user %s: %w", p.session.UserID, err))
	}
	writeJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
	return nil
}

// mountAdminMFA mounts the admin reset of a user's second factors.
func (s *Server) mountAdminMFA(mux *http.ServeMux) {
	if s.mfa == nil {
		return
	}
	mux.Handle("DELETE /admin/v1/users/{id}/mfa", s.handle(s.handleAdminResetMFA))
}

// handleAdminResetMFA removes every second factor of the user and
// revokes every session of theirs.
func (s *Server) handleAdminResetMFA(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.st.UserByID(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		return errNotFound()
	} else if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: user lookup: %w", err))
	}
	if err := s.mfa.Reset(r.Context(), id); err != nil {
		return errUnavailable().because(fmt.Errorf("admin: mfa reset of user %s: %w", id, err))
	}
	n, err := s.flows.RevokeAll(r.Context(), id, session.ReasonMFAReset)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: revoking sessions after an mfa reset of user %s: %w", id, err))
	}
	s.adminAction(r, event.Event{Action: event.ActionMFAReset, UserID: id, Count: n})
	writeJSON(w, http.StatusOK, map[string]int{"sessions_revoked": n})
	return nil
}
