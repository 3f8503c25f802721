package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/passkey"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// Passkeys is WebAuthn as the HTTP layer sees it (passkey.Service).
type Passkeys interface {
	Credentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error)
	Remove(ctx context.Context, userID string, id []byte) error
	BeginRegistration(ctx context.Context, u store.User, name string) (json.RawMessage, error)
	FinishRegistration(ctx context.Context, u store.User, response []byte) (store.WebAuthnCredential, error)
	BeginLogin(ctx context.Context, userID string, mfaHash token.Hash) (json.RawMessage, error)
	BeginPasswordless(ctx context.Context, ip netip.Addr) (json.RawMessage, error)
	FinishLogin(ctx context.Context, userID string, mfaHash token.Hash, response []byte, ip netip.Addr) (mfa.Proof, error)
	FinishPasswordless(ctx context.Context, response []byte, ip netip.Addr) (store.User, mfa.Proof, error)
	BeginReauth(ctx context.Context, userID string) (json.RawMessage, error)
	FinishReauth(ctx context.Context, userID string, response []byte, ip netip.Addr) (mfa.Proof, error)
}

// FactorRemovals tells whether a removed factor was the user's last
// (mfa.Service.FactorRemoved).
type FactorRemovals interface {
	FactorRemoved(ctx context.Context, userID string) (last bool, err error)
}

// WithWebAuthn enables passkeys and security keys (after WithMFA):
// registration, the credential list, the second factor and passwordless
// login. fr is the second-factor service (recovery codes die with the
// last factor).
func (s *Server) WithWebAuthn(p Passkeys, fr FactorRemovals) *Server {
	s.passkeys, s.factorRemovals = p, fr
	return s
}

// mountWebAuthn mounts the WebAuthn routes (API.md); 404 without WithWebAuthn.
func (s *Server) mountWebAuthn(mux *http.ServeMux) {
	if s.passkeys == nil || s.mfa == nil {
		return
	}
	mux.Handle("POST /v1/webauthn/register/begin", s.authed(s.recent(s.handleWebAuthnRegisterBegin)))
	mux.Handle("POST /v1/webauthn/register/finish", s.authed(s.recent(s.handleWebAuthnRegisterFinish)))
	mux.Handle("GET /v1/webauthn/credentials", s.authed(s.handleWebAuthnCredentials))
	mux.Handle("DELETE /v1/webauthn/credentials/{id}", s.authed(s.recent(s.handleWebAuthnRemove)))
	mux.Handle("POST /v1/webauthn/login/begin", s.handle(s.handleWebAuthnLoginBegin))
	mux.Handle("POST /v1/webauthn/login/finish", s.handle(s.handleWebAuthnLoginFinish))
	mux.Handle("POST /v1/webauthn/reauth/begin", s.authed(s.handleWebAuthnReauthBegin))
}

// handleWebAuthnReauthBegin answers assertion options for a step-up of
// the caller's session; POST /v1/reauth {"method":"webauthn",
// "credential"} finishes it.
func (s *Server) handleWebAuthnReauthBegin(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !s.mfaPolicy.Allowed(mfa.WebAuthn) {
		return mfaProblem(authflow.ErrMethodNotAllowed)
	}
	opts, err := s.passkeys.BeginReauth(r.Context(), p.session.UserID)
	if errors.Is(err, passkey.ErrNoCredential) {
		return webauthnProblem(err, http.StatusBadRequest)
	}
	if err != nil {
		return errUnavailable().because(fmt.Errorf("webauthn step-up of user %s: %w", p.session.UserID, err))
	}
	writeRaw(w, opts)
	return nil
}

// reauthWebAuthn is POST /v1/reauth with method webauthn: the assertion
// of a BeginReauth ceremony of this user renews the session (StepUp).
func (s *Server) reauthWebAuthn(w http.ResponseWriter, r *http.Request, p *principal, credential json.RawMessage) error {
	if s.passkeys == nil || !s.mfaPolicy.Allowed(mfa.WebAuthn) {
		return mfaProblem(authflow.ErrMethodNotAllowed)
	}
	if len(credential) == 0 {
		return newProblem(http.StatusBadRequest, "missing_field", `Field "credential" is required for method webauthn.`)
	}
	proof, err := s.passkeys.FinishReauth(r.Context(), p.session.UserID, credential, s.ips.ClientIP(r))
	if err != nil {
		return webauthnProblem(err, http.StatusForbidden)
	}
	res, err := s.flows.StepUp(r.Context(), p.session, proof, s.target(r.Context(), p), s.use(r))
	if err != nil {
		return errUnavailableOr(err).because(fmt.Errorf("webauthn step-up: %w", err))
	}
	s.deliver(w, res)
	return nil
}

// webauthnProblem maps the WebAuthn errors; the cause is logged, never sent.
func webauthnProblem(err error, status int) error {
	switch {
	case errors.Is(err, passkey.ErrCeremony), errors.Is(err, passkey.ErrInvalid),
		errors.Is(err, passkey.ErrUnknownCredential), errors.Is(err, passkey.ErrSignCount):
		return newProblem(status, "webauthn_failed", "The passkey or security key was not accepted; start the ceremony again.").because(err)
	case errors.Is(err, passkey.ErrDuplicate):
		return newProblem(http.StatusConflict, "already_registered", "This credential is registered already.")
	case errors.Is(err, passkey.ErrNoCredential):
		return newProblem(http.StatusBadRequest, "invalid_method", "No passkey or security key is registered for this account.")
	case errors.Is(err, passkey.ErrNotFound):
		return errNotFound()
	}
	return mfaProblem(err)
}

type webauthnRegisterRequest struct {
	Name string `json:"name"`
}

func (s *Server) handleWebAuthnRegisterBegin(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req webauthnRegisterRequest
	if r.ContentLength != 0 {
		if pr := decodeJSON(w, r, &req); pr != nil {
			return pr
		}
	}
	if len(req.Name) > 64 {
		return newProblem(http.StatusBadRequest, "invalid_field", `Field "name" is at most 64 bytes.`)
	}
	if req.Name == "" {
		req.Name = "Passkey"
	}
	u, err := s.st.UserByID(r.Context(), p.session.UserID)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("webauthn registration: user lookup: %w", err))
	}
	opts, err := s.passkeys.BeginRegistration(r.Context(), u, req.Name)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("webauthn registration of user %s: %w", u.ID, err))
	}
	writeRaw(w, opts)
	return nil
}

type webauthnFinishRequest struct {
	// Credential is the PublicKeyCredential as its toJSON() gives it.
	Credential json.RawMessage `json:"credential"`
	MFAToken   string          `json:"mfa_token"`
	Delivery   string          `json:"delivery"`
	ClientID   string          `json:"client_id"`
}

type webauthnCredentialJSON struct {
	ID                string     `json:"id"` // base64url, as in the path of DELETE
	Name              string     `json:"name"`
	Kind              string     `json:"kind"` // "hardware-bound" or "synced"
	AAGUID            string     `json:"aaguid"`
	AttestationFormat string     `json:"attestation_format"`
	Transports        []string   `json:"transports"`
	BackupEligible    bool       `json:"backup_eligible"`
	BackupState       bool       `json:"backup_state"`
	UserVerified      bool       `json:"user_verified"`
	SignCount         uint32     `json:"sign_count"`
	CloneWarning      bool       `json:"clone_warning"`
	CreatedAt         time.Time  `json:"created_at"`
	LastUsedAt        *time.Time `json:"last_used_at,omitempty"`
}

func credentialJSON(c store.WebAuthnCredential) webauthnCredentialJSON {
	out := webauthnCredentialJSON{
		ID: base64.RawURLEncoding.EncodeToString(c.ID), Name: c.Name, Kind: "hardware-bound",
		AttestationFormat: c.AttestationFormat, Transports: c.Transports,
		BackupEligible: c.BackupEligible, BackupState: c.BackupState, UserVerified: c.UserVerified,
		SignCount: c.SignCount, CloneWarning: c.CloneWarning, CreatedAt: c.CreatedAt,
	}
	if c.BackupEligible {
		out.Kind = "synced"
	}
	if id, err := uuid.FromBytes(c.AAGUID); err == nil {
		out.AAGUID = id.String()
	}
	if out.Transports == nil {
		out.Transports = []string{}
	}
	if !c.LastUsedAt.IsZero() {
		out.LastUsedAt = &c.LastUsedAt
	}
	return out
}

// handleWebAuthnRegisterFinish stores the credential and renews the
// session as TOTP confirmation does: it has just shown a new factor (a
// privilege change), so it gets a new token with the key's amr.
func (s *Server) handleWebAuthnRegisterFinish(w http.ResponseWriter, r *http.Request, p *principal) error {
	var req webauthnFinishRequest
	if pr := decodeJSON(w, r, &req); pr != nil {
		return pr
	}
	if len(req.Credential) == 0 {
		return newProblem(http.StatusBadRequest, "missing_field", `Field "credential" is required.`)
	}
	u, err := s.st.UserByID(r.Context(), p.session.UserID)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("webauthn registration: user lookup: %w", err))
	}
	c, err := s.passkeys.FinishRegistration(r.Context(), u, req.Credential)
	if err != nil {
		return webauthnProblem(err, http.StatusBadRequest)
	}
	res, err := s.flows.StepUp(r.Context(), p.session, mfa.KeyProof(c.BackupEligible, c.UserVerified), s.target(r.Context(), p), s.use(r))
	if err != nil {
		return errUnavailableOr(err).because(fmt.Errorf("renewing the session after webauthn registration: %w", err))
	}
	cj := credentialJSON(c)
	s.deliverResponse(w, res, loginResponse{Credential: &cj})
	return nil
}

func (s *Server) handleWebAuthnCredentials(w http.ResponseWriter, r *http.Request, p *principal) error {
	l, err := s.passkeys.Credentials(r.Context(), p.session.UserID)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("webauthn credentials of user %s: %w", p.session.UserID, err))
	}
	out := make([]webauthnCredentialJSON, 0, len(l))
	for _, c := range l {
		out = append(out, credentialJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"credentials": out})
	return nil
}

// handleWebAuthnRemove removes a credential and, like removing TOTP,
// ends every session of the user and starts a fresh one for this client
// without the key's amr: sessions that relied on it must not outlive it.
// The last factor takes the recovery codes with it.
func (s *Server) handleWebAuthnRemove(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := base64.RawURLEncoding.DecodeString(r.PathValue("id"))
	if err != nil || len(id) == 0 || len(id) > 1023 {
		return errNotFound()
	}
	if err := s.passkeys.Remove(r.Context(), p.session.UserID, id); err != nil {
		return webauthnProblem(err, http.StatusBadRequest)
	}
	if _, err := s.factorRemovals.FactorRemoved(r.Context(), p.session.UserID); err != nil {
		return errUnavailable().because(fmt.Errorf("webauthn removal of user %s: %w", p.session.UserID, err))
	}
	res, err := s.flows.RenewAfterReset(r.Context(), p.session, session.ReasonMFAReset, []string{mfa.AMRHardware, mfa.AMRSoftware, mfa.AMRUser}, s.target(r.Context(), p), s.use(r))
	if err != nil {
		return errUnavailableOr(err).because(fmt.Errorf("revoking sessions after webauthn removal: %w", err))
	}
	s.deliver(w, res)
	return nil
}

type webauthnLoginBeginRequest struct {
	MFAToken string `json:"mfa_token"`
}

// handleWebAuthnLoginBegin answers assertion options: for the user of
// an mfa_token (a second factor), or, without one, for a passwordless
// login with a discoverable credential and user verification.
func (s *Server) handleWebAuthnLoginBegin(w http.ResponseWriter, r *http.Request) error {
	if !s.sameOrigin(r, false) {
		return errCSRF("Cross-origin login refused.")
	}
	var req webauthnLoginBeginRequest
	if r.ContentLength != 0 {
		if pr := decodeJSON(w, r, &req); pr != nil {
			return pr
		}
	}
	if !s.mfaPolicy.Allowed(mfa.WebAuthn) {
		return mfaProblem(authflow.ErrMethodNotAllowed)
	}
	var opts json.RawMessage
	if req.MFAToken != "" {
		c, err := s.flows.PendingChallenge(r.Context(), req.MFAToken)
		if err != nil {
			return mfaProblem(err)
		}
		if opts, err = s.passkeys.BeginLogin(r.Context(), c.UserID, c.Hash); err != nil {
			if errors.Is(err, passkey.ErrNoCredential) {
				return webauthnProblem(err, http.StatusUnauthorized)
			}
			return errUnavailable().because(fmt.Errorf("webauthn login of user %s: %w", c.UserID, err))
		}
	} else {
		var err error
		if opts, err = s.passkeys.BeginPasswordless(r.Context(), s.ips.ClientIP(r)); err != nil {
			var te *mfa.ThrottledError
			if errors.As(err, &te) {
				return mfaProblem(err)
			}
			return errUnavailable().because(fmt.Errorf("webauthn passwordless login: %w", err))
		}
	}
	writeRaw(w, opts)
	return nil
}

// handleWebAuthnLoginFinish verifies the assertion: with an mfa_token it
// completes that challenge (authflow.CompleteWith: attempts, single use,
// the delivery chosen at the password step); without, it is a
// passwordless login (authflow.LoginWithProof).
func (s *Server) handleWebAuthnLoginFinish(w http.ResponseWriter, r *http.Request) error {
	if !s.sameOrigin(r, false) {
		return errCSRF("Cross-origin login refused.")
	}
	var req webauthnFinishRequest
	if pr := decodeJSON(w, r, &req); pr != nil {
		return pr
	}
	if len(req.Credential) == 0 {
		return newProblem(http.StatusBadRequest, "missing_field", `Field "credential" is required.`)
	}
	switch req.Delivery {
	case "", "cookie", "token":
	default:
		return newProblem(http.StatusBadRequest, "invalid_field", `Field "delivery" must be "cookie" or "token".`)
	}
	ip := s.ips.ClientIP(r)
	presented, pp := s.presented(r)
	if pp != nil {
		return pp
	}
	if req.MFAToken != "" {
		c, err := s.flows.PendingChallenge(r.Context(), req.MFAToken)
		if err != nil {
			return mfaProblem(err)
		}
		res, err := s.flows.CompleteWith(r.Context(), authflow.SecondFactor{
			MFAToken: req.MFAToken, Method: mfa.WebAuthn,
			Delivery: authflow.Delivery(req.Delivery), ClientID: req.ClientID, Presented: presented,
		}, func(ctx context.Context, userID string) (mfa.Proof, error) {
			return s.passkeys.FinishLogin(ctx, userID, c.Hash, req.Credential, ip)
		}, s.use(r))
		if err != nil {
			return webauthnProblem(err, http.StatusUnauthorized)
		}
		s.deliver(w, res)
		return nil
	}
	if !s.mfaPolicy.Allowed(mfa.WebAuthn) {
		return mfaProblem(authflow.ErrMethodNotAllowed)
	}
	if req.Delivery == "" {
		req.Delivery = "cookie"
	}
	if req.Delivery == "token" && s.oauth == nil {
		return newProblem(http.StatusBadRequest, "invalid_field", `Token delivery is not enabled on this server.`)
	}
	u, proof, err := s.passkeys.FinishPasswordless(r.Context(), req.Credential, ip)
	if err != nil {
		return webauthnProblem(err, http.StatusUnauthorized)
	}
	res, err := s.flows.LoginWithProof(r.Context(), authflow.ProofLogin{
		User: u, Proof: proof, Delivery: authflow.Delivery(req.Delivery), ClientID: req.ClientID, Presented: presented,
	}, s.use(r))
	if err != nil {
		return loginProblem(err)
	}
	s.deliver(w, res)
	return nil
}

// writeRaw answers 200 with JSON already encoded.
func writeRaw(w http.ResponseWriter, b json.RawMessage) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
