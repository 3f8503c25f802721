package passkey

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/throttle"
	"github.com/tessera-auth/tessera/token"
)

// Errors callers branch on. To a client every one but ErrDuplicate and
// ErrNotFound is "the passkey was not accepted"; which it was is for
// the logs and events.
var (
	// ErrCeremony: the response answers no live ceremony of this kind
	// for this user: a wrong, reused or expired challenge.
	ErrCeremony = errors.New("passkey: no live ceremony for this challenge")
	// ErrInvalid: the library refused the response (origin, RP ID,
	// signature, flags, attestation, malformed input).
	ErrInvalid = errors.New("passkey: response refused")
	// ErrUnknownCredential: the assertion names a credential the user
	// (or, passwordless, anyone) does not have.
	ErrUnknownCredential = errors.New("passkey: unknown credential")
	// ErrSignCount: the assertion's counter did not increase and policy
	// refuses it (a possibly cloned authenticator, §6.1.1).
	ErrSignCount = errors.New("passkey: signature counter did not increase")
	// ErrNoCredential: the user has no credential to assert with.
	ErrNoCredential = errors.New("passkey: user has no credential")
	// ErrDuplicate: the credential is registered already.
	ErrDuplicate = errors.New("passkey: credential already registered")
	// ErrNotFound: the user has no credential with that id.
	ErrNotFound = errors.New("passkey: no such credential")
)

// Store is what WebAuthn needs from storage (store.WebAuthn).
type Store interface {
	CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error
	WebAuthnCredentialsByUser(ctx context.Context, userID string) ([]store.WebAuthnCredential, error)
	WebAuthnCredentialByID(ctx context.Context, id []byte) (store.WebAuthnCredential, error)
	CountWebAuthnCredentials(ctx context.Context, userID string) (int, error)
	AdvanceWebAuthnCounter(ctx context.Context, id []byte, count uint32, backupState bool, at time.Time) error
	FlagWebAuthnClone(ctx context.Context, id []byte, backupState bool, at time.Time) error
	DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) error
	CreateWebAuthnCeremony(ctx context.Context, c store.WebAuthnCeremony) error
	TakeWebAuthnCeremony(ctx context.Context, hash [32]byte) (store.WebAuthnCeremony, error)
}

// Users reads users (a passwordless login learns its user from the credential).
type Users interface {
	UserByID(ctx context.Context, id string) (store.User, error)
}

// SignCountPolicy says what an assertion whose signature counter did
// not increase gets (W3C WebAuthn §6.1.1: "a signal that the
// authenticator may be cloned"; the RP decides).
type SignCountPolicy string

const (
	// Refuse: the assertion is refused (the default).
	Refuse SignCountPolicy = "refuse"
	// Flag: the assertion is accepted and the credential marked
	// (CloneWarning); the event is published either way.
	Flag SignCountPolicy = "flag"
)

// Config is the relying party and its policy.
type Config struct {
	// RPID is the relying party id: the registrable domain (or host)
	// credentials are scoped to (§5.1.2), such as "example.com".
	RPID string
	// RPName is shown by authenticators ("Tessera" if empty).
	RPName string
	// Origins are the origins allowed in clientDataJSON (§7.1 step 9),
	// such as "https://auth.example.com"; at least one.
	Origins []string
	// CeremonyTTL is how long a ceremony's options stay answerable.
	// Default 5m.
	CeremonyTTL time.Duration
	// SignCount is the sign-count policy. Default Refuse.
	SignCount SignCountPolicy
	// BeginBurst passwordless ceremonies may be begun from one client
	// address (IPv6 by /64) before throttling, one more every
	// BeginRefill: a begin stores a ceremony before anyone is known, so
	// unauthenticated begins are bounded. Default 30 and 2s.
	BeginBurst  int
	BeginRefill time.Duration
	// Events receives event.FactorChanged, event.MFAFailed and
	// event.SignCountRegressed (nil: none).
	Events event.Sink
	Now    func() time.Time // nil: time.Now
}

// Ceremony kinds (store.WebAuthnCeremony.Kind).
const (
	kindRegister     = "register"
	kindLogin        = "login"
	kindPasswordless = "passwordless"
	kindReauth       = "reauth"
)

// Service registers and verifies WebAuthn credentials. Safe for
// concurrent use.
type Service struct {
	st     Store
	users  Users
	wa     *webauthn.WebAuthn
	cfg    Config
	begins *throttle.Limiter // passwordless begins per client address
}

// New returns the service; an error if the relying party is not valid.
func New(st Store, users Users, cfg Config) (*Service, error) {
	if cfg.RPName == "" {
		cfg.RPName = "Tessera"
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = 5 * time.Minute
	}
	switch cfg.SignCount {
	case "":
		cfg.SignCount = Refuse
	case Refuse, Flag:
	default:
		return nil, fmt.Errorf("passkey: sign-count policy %q is not refuse or flag", cfg.SignCount)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BeginBurst <= 0 {
		cfg.BeginBurst, cfg.BeginRefill = 30, 2*time.Second
	}
	for _, o := range cfg.Origins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			return nil, fmt.Errorf("passkey: origin %q is not scheme://host[:port]", o)
		}
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: cfg.RPID, RPDisplayName: cfg.RPName, RPOrigins: cfg.Origins,
		// No attestation asked for: Tessera keeps no authenticator
		// metadata (MDS) to judge one by, and "none" spares users a
		// privacy prompt (§5.4.7). A packed self-attestation sent anyway
		// is still verified by the library.
		AttestationPreference: protocol.PreferNoAttestation,
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{st: st, users: users, wa: wa, cfg: cfg, begins: throttle.New(cfg.BeginBurst, cfg.BeginRefill, cfg.Now)}, nil
}

// Method is the second-factor method WebAuthn answers to (mfa.Factor).
func (s *Service) Method() mfa.Method { return mfa.WebAuthn }

// Enrolled reports whether the user has a credential (mfa.Factor).
func (s *Service) Enrolled(ctx context.Context, userID string) (bool, error) {
	n, err := s.st.CountWebAuthnCredentials(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("passkey: %w", err)
	}
	return n > 0, nil
}

// Credentials returns the user's credentials, oldest first.
func (s *Service) Credentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	l, err := s.st.WebAuthnCredentialsByUser(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return l, nil
}

// Remove deletes the user's credential id.
func (s *Service) Remove(ctx context.Context, userID string, id []byte) error {
	err := s.st.DeleteWebAuthnCredential(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("passkey: %w", err)
	}
	s.publish(ctx, event.Event{Kind: event.FactorChanged, UserID: userID, Action: event.ActionWebAuthnRemove, Method: string(mfa.WebAuthn)})
	return nil
}

// user is a Tessera user as the library sees one. The user handle is
// the user id: opaque, no personal data (§14.6.1).
type user struct {
	u     store.User
	creds []webauthn.Credential
}

func (u user) WebAuthnID() []byte                         { return []byte(u.u.ID) }
func (u user) WebAuthnName() string                       { return u.u.Username }
func (u user) WebAuthnDisplayName() string                { return u.u.Username }
func (u user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func libCredential(c store.WebAuthnCredential) webauthn.Credential {
	var flags protocol.AuthenticatorFlags
	if c.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if c.BackupState {
		flags |= protocol.FlagBackupState
	}
	if c.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	ts := make([]protocol.AuthenticatorTransport, 0, len(c.Transports))
	for _, t := range c.Transports {
		ts = append(ts, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID: c.ID, PublicKey: c.PublicKey, AttestationFormat: c.AttestationFormat, Transport: ts,
		Flags:         webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount},
	}
}

func (s *Service) loadUser(ctx context.Context, u store.User) (user, []store.WebAuthnCredential, error) {
	recs, err := s.st.WebAuthnCredentialsByUser(ctx, u.ID)
	if err != nil {
		return user{}, nil, fmt.Errorf("passkey: %w", err)
	}
	lu := user{u: u}
	for _, r := range recs {
		lu.creds = append(lu.creds, libCredential(r))
	}
	return lu, recs, nil
}

// save stores a ceremony's state, keyed by its challenge.
func (s *Service) save(ctx context.Context, kind, userID string, mfaHash [32]byte, name string, sd *webauthn.SessionData) error {
	state, err := json.Marshal(sd)
	if err != nil {
		return fmt.Errorf("passkey: %w", err)
	}
	now := s.now()
	err = s.st.CreateWebAuthnCeremony(ctx, store.WebAuthnCeremony{
		Hash: challengeHash(sd.Challenge), Kind: kind, UserID: userID, MFAHash: mfaHash, Name: name,
		State: state, CreatedAt: now, ExpiresAt: now.Add(s.cfg.CeremonyTTL),
	})
	if err != nil {
		return fmt.Errorf("passkey: storing a ceremony: %w", err)
	}
	return nil
}

// marshal renders options as the JSON a page hands to
// PublicKeyCredential.parseCreationOptionsFromJSON /
// parseRequestOptionsFromJSON (under "publicKey").
func marshal(opts any) (json.RawMessage, error) {
	b, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("passkey: options: %w", err)
	}
	return b, nil
}

func challengeHash(challenge string) [32]byte { return sha256.Sum256([]byte(challenge)) }

// take removes and returns the live ceremony the response's challenge
// names, if it is of kind for userID (and, for a second factor, of that
// mfa_token): one use, whatever the outcome of the checks after it.
func (s *Service) take(ctx context.Context, challenge, kind, userID string, mfaHash [32]byte) (store.WebAuthnCeremony, webauthn.SessionData, error) {
	c, err := s.st.TakeWebAuthnCeremony(ctx, challengeHash(challenge))
	if errors.Is(err, store.ErrNotFound) {
		return c, webauthn.SessionData{}, ErrCeremony
	}
	if err != nil {
		return c, webauthn.SessionData{}, fmt.Errorf("passkey: %w", err)
	}
	if c.Kind != kind || c.UserID != userID || c.MFAHash != mfaHash || !s.now().Before(c.ExpiresAt) {
		return c, webauthn.SessionData{}, ErrCeremony
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(c.State, &sd); err != nil {
		return c, webauthn.SessionData{}, fmt.Errorf("passkey: ceremony state: %w", err)
	}
	return c, sd, nil
}

// BeginRegistration starts adding a credential named name for u: the
// options for navigator.credentials.create (§5.4). A discoverable
// credential (a passkey) is preferred, user verification preferred, and
// the user's credentials are excluded (§5.4.3: one per authenticator).
func (s *Service) BeginRegistration(ctx context.Context, u store.User, name string) (json.RawMessage, error) {
	lu, _, err := s.loadUser(ctx, u)
	if err != nil {
		return nil, err
	}
	excl := make([]protocol.CredentialDescriptor, 0, len(lu.creds))
	for _, c := range lu.creds {
		excl = append(excl, c.Descriptor())
	}
	opts, sd, err := s.wa.BeginRegistration(lu,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationPreferred,
		}),
		webauthn.WithExclusions(excl),
	)
	if err != nil {
		return nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	if err := s.save(ctx, kindRegister, u.ID, [32]byte{}, name, sd); err != nil {
		return nil, err
	}
	return marshal(opts)
}

// FinishRegistration verifies the response to a registration of u's
// (the PublicKeyCredential as JSON, §5.1) and stores the credential.
func (s *Service) FinishRegistration(ctx context.Context, u store.User, response []byte) (store.WebAuthnCredential, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	cer, sd, err := s.take(ctx, parsed.Response.CollectedClientData.Challenge, kindRegister, u.ID, [32]byte{})
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	lu, _, err := s.loadUser(ctx, u)
	if err != nil {
		return store.WebAuthnCredential{}, err
	}
	c, err := s.wa.CreateCredential(lu, sd, parsed)
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	rec := store.WebAuthnCredential{
		ID: c.ID, UserID: u.ID, Name: cer.Name, PublicKey: c.PublicKey, SignCount: c.Authenticator.SignCount,
		AAGUID: c.Authenticator.AAGUID, AttestationFormat: c.AttestationFormat,
		BackupEligible: c.Flags.BackupEligible, BackupState: c.Flags.BackupState, UserVerified: c.Flags.UserVerified,
		CreatedAt: s.now(),
	}
	for _, t := range c.Transport {
		rec.Transports = append(rec.Transports, string(t))
	}
	if err := s.st.CreateWebAuthnCredential(ctx, rec); errors.Is(err, store.ErrConflict) {
		return store.WebAuthnCredential{}, ErrDuplicate
	} else if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("passkey: %w", err)
	}
	s.publish(ctx, event.Event{Kind: event.FactorChanged, UserID: u.ID, Action: event.ActionWebAuthnRegister, Method: string(mfa.WebAuthn)})
	return rec, nil
}

// BeginLogin starts a second-factor assertion for userID, answering the
// challenge whose mfa_token hashes to mfaHash: the options for
// navigator.credentials.get listing the user's credentials (§5.5).
func (s *Service) BeginLogin(ctx context.Context, userID string, mfaHash token.Hash) (json.RawMessage, error) {
	return s.beginFor(ctx, kindLogin, userID, mfaHash)
}

// BeginReauth starts a step-up assertion for a session of userID's
// (POST /v1/reauth with method webauthn finishes it).
func (s *Service) BeginReauth(ctx context.Context, userID string) (json.RawMessage, error) {
	return s.beginFor(ctx, kindReauth, userID, [32]byte{})
}

func (s *Service) beginFor(ctx context.Context, kind, userID string, mfaHash token.Hash) (json.RawMessage, error) {
	u, err := s.users.UserByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	lu, _, err := s.loadUser(ctx, u)
	if err != nil {
		return nil, err
	}
	if len(lu.creds) == 0 {
		return nil, ErrNoCredential
	}
	opts, sd, err := s.wa.BeginLogin(lu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	if err := s.save(ctx, kind, userID, mfaHash, "", sd); err != nil {
		return nil, err
	}
	return marshal(opts)
}

// BeginPasswordless starts a passwordless login: no user is named, the
// authenticator offers its discoverable credentials for this RP, and it
// must verify the user (§6.2.3: UV makes the key alone two factors).
//
// Begins are throttled per client address (*mfa.ThrottledError): each
// stores a ceremony for nobody in particular.
func (s *Service) BeginPasswordless(ctx context.Context, ip netip.Addr) (json.RawMessage, error) {
	// Every begin spends a token, not only failures; check and take in one
	// step so racing begins never overdraw the budget.
	if spent, _, wait := s.begins.Spend(ctx, throttle.IPKey(ip)); !spent {
		return nil, &mfa.ThrottledError{RetryAfter: wait}
	}
	opts, sd, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("passkey: begin passwordless login: %w", err)
	}
	if err := s.save(ctx, kindPasswordless, "", [32]byte{}, "", sd); err != nil {
		return nil, err
	}
	return marshal(opts)
}

// FinishLogin verifies a second-factor assertion of userID's answering
// the mfa_token hashed as mfaHash, and applies the sign-count policy.
// It is the Prove of authflow.Flows.CompleteWith.
func (s *Service) FinishLogin(ctx context.Context, userID string, mfaHash token.Hash, response []byte, ip netip.Addr) (mfa.Proof, error) {
	return s.finishFor(ctx, kindLogin, userID, mfaHash, response, ip)
}

// FinishReauth verifies a step-up assertion of userID's (a ceremony of
// BeginReauth) and applies the sign-count policy.
func (s *Service) FinishReauth(ctx context.Context, userID string, response []byte, ip netip.Addr) (mfa.Proof, error) {
	return s.finishFor(ctx, kindReauth, userID, [32]byte{}, response, ip)
}

func (s *Service) finishFor(ctx context.Context, kind, userID string, mfaHash token.Hash, response []byte, ip netip.Addr) (mfa.Proof, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		s.failed(ctx, userID, ip, event.ReasonAssertion)
		return mfa.Proof{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	_, sd, err := s.take(ctx, parsed.Response.CollectedClientData.Challenge, kind, userID, mfaHash)
	if err != nil {
		if errors.Is(err, ErrCeremony) {
			s.failed(ctx, userID, ip, event.ReasonCeremony)
		}
		return mfa.Proof{}, err
	}
	u, err := s.users.UserByID(ctx, userID)
	if err != nil {
		return mfa.Proof{}, fmt.Errorf("passkey: %w", err)
	}
	lu, recs, err := s.loadUser(ctx, u)
	if err != nil {
		return mfa.Proof{}, err
	}
	if !slices.ContainsFunc(recs, func(r store.WebAuthnCredential) bool { return string(r.ID) == string(parsed.RawID) }) {
		s.failed(ctx, userID, ip, event.ReasonUnknownKey)
		return mfa.Proof{}, ErrUnknownCredential
	}
	if _, err := s.wa.ValidateLogin(lu, sd, parsed); err != nil {
		s.failed(ctx, userID, ip, event.ReasonAssertion)
		return mfa.Proof{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return s.used(ctx, recs, parsed, ip)
}

// FinishPasswordless verifies a passwordless assertion and returns the
// credential's user. User verification was required by the ceremony and
// is checked by the library.
func (s *Service) FinishPasswordless(ctx context.Context, response []byte, ip netip.Addr) (store.User, mfa.Proof, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		s.failed(ctx, "", ip, event.ReasonAssertion)
		return store.User{}, mfa.Proof{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	_, sd, err := s.take(ctx, parsed.Response.CollectedClientData.Challenge, kindPasswordless, "", [32]byte{})
	if err != nil {
		if errors.Is(err, ErrCeremony) {
			s.failed(ctx, "", ip, event.ReasonCeremony)
		}
		return store.User{}, mfa.Proof{}, err
	}
	rec, err := s.st.WebAuthnCredentialByID(ctx, parsed.RawID)
	if errors.Is(err, store.ErrNotFound) || err == nil && rec.UserID != string(parsed.Response.UserHandle) {
		s.failed(ctx, "", ip, event.ReasonUnknownKey)
		return store.User{}, mfa.Proof{}, ErrUnknownCredential
	}
	if err != nil {
		return store.User{}, mfa.Proof{}, fmt.Errorf("passkey: %w", err)
	}
	u, err := s.users.UserByID(ctx, rec.UserID)
	if err != nil {
		return store.User{}, mfa.Proof{}, fmt.Errorf("passkey: %w", err)
	}
	lu, recs, err := s.loadUser(ctx, u)
	if err != nil {
		return store.User{}, mfa.Proof{}, err
	}
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		if string(userHandle) != u.ID {
			return nil, ErrUnknownCredential
		}
		return lu, nil
	}
	if _, _, err := s.wa.ValidatePasskeyLogin(handler, sd, parsed); err != nil {
		s.failed(ctx, u.ID, ip, event.ReasonAssertion)
		return store.User{}, mfa.Proof{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	p, err := s.used(ctx, recs, parsed, ip)
	if err != nil {
		return store.User{}, mfa.Proof{}, err
	}
	return u, p, nil
}

// used records a verified assertion: the counter advances (a
// conditional update, so two uses of one counter value on two nodes
// cannot both pass), or the sign-count policy decides.
func (s *Service) used(ctx context.Context, recs []store.WebAuthnCredential, parsed *protocol.ParsedCredentialAssertionData, ip netip.Addr) (mfa.Proof, error) {
	i := slices.IndexFunc(recs, func(r store.WebAuthnCredential) bool { return string(r.ID) == string(parsed.RawID) })
	if i < 0 {
		return mfa.Proof{}, ErrUnknownCredential
	}
	rec := recs[i]
	flags := parsed.Response.AuthenticatorData.Flags
	count := parsed.Response.AuthenticatorData.Counter
	now := s.now()
	err := s.st.AdvanceWebAuthnCounter(ctx, rec.ID, count, flags.HasBackupState(), now)
	switch {
	case errors.Is(err, store.ErrStale):
		reason := event.ReasonRefused
		if s.cfg.SignCount == Flag {
			reason = event.ReasonFlagged
		}
		s.publish(ctx, event.Event{Kind: event.SignCountRegressed, UserID: rec.UserID, Method: string(mfa.WebAuthn), Reason: reason, IP: ip})
		if s.cfg.SignCount != Flag {
			s.failed(ctx, rec.UserID, ip, event.ReasonSignCount)
			return mfa.Proof{}, ErrSignCount
		}
		if err := s.st.FlagWebAuthnClone(ctx, rec.ID, flags.HasBackupState(), now); err != nil {
			return mfa.Proof{}, fmt.Errorf("passkey: %w", err)
		}
	case errors.Is(err, store.ErrNotFound):
		return mfa.Proof{}, ErrUnknownCredential // removed meanwhile
	case err != nil:
		return mfa.Proof{}, fmt.Errorf("passkey: %w", err)
	}
	return mfa.KeyProof(rec.BackupEligible, flags.HasUserVerified()), nil
}

func (s *Service) failed(ctx context.Context, userID string, ip netip.Addr, reason string) {
	s.publish(ctx, event.Event{Kind: event.MFAFailed, UserID: userID, Method: string(mfa.WebAuthn), IP: ip, Reason: reason})
}

func (s *Service) publish(ctx context.Context, e event.Event) {
	if s.cfg.Events != nil {
		e.At = s.now()
		s.cfg.Events.Publish(ctx, e)
	}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
