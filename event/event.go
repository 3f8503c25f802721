package event

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/token"
)

// Kind says what happened.
type Kind uint8

// The kinds of event. The comment on each lists the fields it fills
// besides Kind and At.
const (
	// LoginSucceeded: a login started a session (published once the
	// session exists, not when the password was accepted: a login can
	// still fail after that). UserID, SessionID, ClientID, IP, UserAgent.
	LoginSucceeded Kind = iota + 1
	// LoginFailed: a login was refused. Reason (ReasonBadCredentials,
	// ReasonThrottled with RetryAfter, ReasonStaleCredentials,
	// ReasonInvalidClient, ReasonUnauthorizedClient with ClientID,
	// ReasonError), IP, and UserID when the account is known.
	LoginFailed
	// SessionCreated: a session started. SessionID, UserID, IP, UserAgent.
	SessionCreated
	// SessionValidated: a session credential was presented. SessionID,
	// UserID, IP, UserAgent; Reason is empty if it was accepted, else
	// ReasonInvalid, ReasonExpired or ReasonRevoked (SessionID and UserID
	// are set for an expired or revoked session, empty for an unknown
	// token). Via is set when the credential was not presented by its
	// holder (ViaIntrospection, ViaRevocation): IP and UserAgent are then
	// the asking client's. Token and JTI name a denied access token
	// (Reason ReasonRevoked). Published on every authenticated request:
	// keep its subscribers cheap.
	SessionValidated
	// SessionRenewed: a session's sliding idle timeout was extended in the
	// store (at most once per touch interval). SessionID, UserID.
	SessionRenewed
	// SessionRevoked: this node revoked Count sessions for Reason (a
	// session.Reason* value or "refresh_reuse"). SessionID when Count is
	// 1 and known, UserID when known.
	SessionRevoked
	// RefreshRotated: a refresh token was exchanged for its successor.
	// SessionID, UserID, ClientID.
	RefreshRotated
	// RefreshGraceRetry: a just-rotated refresh token was presented again
	// by its client, from the rotation's network and user agent, within
	// the grace window; another successor was issued (once per token).
	// SessionID, UserID, ClientID, IP, UserAgent.
	RefreshGraceRetry
	// RefreshReused: a rotated refresh token was presented again (RFC 9700
	// §4.14.2: a theft signal); its family is revoked. SessionID, UserID,
	// ClientID, IP, UserAgent; Reason says why a retry was not forgiven
	// (oauth.Reuse* values).
	RefreshReused
	// TokenIssued: an access or refresh token was minted. Token
	// (TokenAccess, TokenRefresh), Format (access tokens: "jwt" or
	// "opaque"), Grant (GrantLogin, GrantRefreshToken,
	// GrantClientCredentials), ClientID, UserID (the subject), SessionID, JTI.
	TokenIssued
	// TokenRevoked: a token was revoked at a client's request (RFC 7009).
	// Token, ClientID, and JTI (access) or SessionID (refresh).
	TokenRevoked
	// Introspected: a client asked about a token (RFC 7662). ClientID (the
	// caller), Active, and for an active token Token, UserID, SessionID, JTI.
	Introspected
	// KeyRotated: this node rotated the signing keys. KID is the new
	// active key.
	KeyRotated
	// TokenProbeThrottled: failed token presentations emptied a probing
	// budget (probe package): further ones are refused (429) for
	// RetryAfter. Token (probe.Bearer or probe.Introspection), IP,
	// UserAgent, and ClientID for introspection.
	TokenProbeThrottled
	// KeyRevoked: this node revoked a signing key (emergency revocation of
	// a compromised key). KID is the revoked key.
	KeyRevoked
	// AdminAction: an administrator changed something. Actor (ActorAdminAPI,
	// ActorCLI), Action (Action* values) and the object: UserID,
	// SessionID, ClientID or KID; Count for bulk actions.
	AdminAction
	// MFAChallenged: a password was accepted and a second factor is
	// awaited (no session yet). UserID, ClientID, IP, UserAgent.
	MFAChallenged
	// MFAFailed: a second factor was refused. UserID (when known), Method,
	// Reason (ReasonBadCode, ReasonReplay, ReasonThrottled,
	// ReasonChallenge), IP.
	MFAFailed
	// FactorChanged: a user's second factors changed. UserID, Action
	// (ActionTOTPEnroll, ActionTOTPRemove, ActionRecoveryRegenerate,
	// ActionMFAReset), Method, Actor for an admin reset.
	FactorChanged
	// Reauthenticated: a session re-proved a credential (step-up) and was
	// renewed. UserID, SessionID (the new one), Method.
	Reauthenticated
	// SignCountRegressed: a WebAuthn assertion's signature counter did
	// not exceed the one stored for its credential (W3C WebAuthn §6.1.1:
	// a sign the authenticator may have been cloned). UserID, Method,
	// Reason (ReasonRefused or ReasonFlagged, per policy), IP.
	SignCountRegressed
	// AlertRaised: a detection rule fired (package detect). Reason is the
	// rule's name, Action the action taken (a detect.Action); UserID,
	// SessionID, ClientID and IP name the subject. The alert itself, with
	// its evidence, is stored by package alert.
	AlertRaised
	// StepUpRequired: a session was marked to re-authenticate before its
	// next sensitive use (detection's step_up action). SessionID, UserID,
	// Reason (the rule).
	StepUpRequired

	numKinds
)

var kindNames = [numKinds]string{
	LoginSucceeded:      "login_succeeded",
	LoginFailed:         "login_failed",
	SessionCreated:      "session_created",
	SessionValidated:    "session_validated",
	SessionRenewed:      "session_renewed",
	SessionRevoked:      "session_revoked",
	RefreshRotated:      "refresh_rotated",
	RefreshGraceRetry:   "refresh_grace_retry",
	RefreshReused:       "refresh_reused",
	TokenIssued:         "token_issued",
	TokenRevoked:        "token_revoked",
	Introspected:        "introspected",
	KeyRotated:          "key_rotated",
	KeyRevoked:          "key_revoked",
	TokenProbeThrottled: "token_probe_throttled",
	AdminAction:         "admin_action",
	MFAChallenged:       "mfa_challenged",
	MFAFailed:           "mfa_failed",
	FactorChanged:       "factor_changed",
	Reauthenticated:     "reauthenticated",
	SignCountRegressed:  "sign_count_regressed",
	AlertRaised:         "alert_raised",
	StepUpRequired:      "step_up_required",
}

func (k Kind) String() string {
	if k == 0 || k >= numKinds {
		return "unknown"
	}
	return kindNames[k]
}

// Reasons events carry.
const (
	ReasonBadCredentials   = "bad_credentials"
	ReasonThrottled        = "throttled"
	ReasonStaleCredentials = "stale_credentials" // the password changed while the login was checked
	ReasonError            = "error"             // the store or the hashing pool could not answer
	ReasonInvalidClient    = "invalid_client"    // the password was right, the login's client_id unusable
	ReasonDisabled         = "account_disabled"  // the password was right, the account disabled
	ReasonMustChange       = "password_change_required"
	ReasonInvalid          = "invalid"
	ReasonExpired          = "expired"
	ReasonRevoked          = "revoked"
	ReasonBadCode          = "bad_code"  // a wrong second-factor code
	ReasonReplay           = "replay"    // a TOTP code of an already accepted step
	ReasonChallenge        = "challenge" // an mfa_token unknown, expired, used, spent or presented for another delivery
	ReasonCeremony         = "ceremony"  // a WebAuthn response to no live ceremony: wrong, reused or expired challenge
	ReasonAssertion        = "assertion" // a WebAuthn response the library refused (origin, RP ID, signature, flags)
	ReasonUnknownKey       = "unknown_credential"
	ReasonSignCount        = "sign_count" // a WebAuthn counter that did not increase, refused
	ReasonRefused          = "refused"
	ReasonFlagged          = "flagged"
)

// ReasonUnauthorizedClient: a login named a client that is not first
// party (RFC 9700 §2.4: no password grant for third-party clients),
// refused before the password was checked.
const ReasonUnauthorizedClient = "unauthorized_client"

// Grants of TokenIssued: a login (IssueForSession), or an RFC 6749 grant.
const (
	GrantLogin             = "login"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Token kinds, for TokenIssued, TokenRevoked and Introspected.
const (
	TokenAccess  = "access"
	TokenRefresh = "refresh"
	TokenSession = "session"
)

// Actors and actions of AdminAction.
const (
	ActorAdminAPI = "admin_api"
	ActorCLI      = "cli"

	ActionUserCreate     = "user_create"
	ActionSessionRevoke  = "session_revoke"
	ActionUserRevoke     = "user_sessions_revoke"
	ActionClientRegister = "client_register"
	ActionKeyRotate      = "key_rotate"
	ActionKeyRevoke      = "key_revoke"

	ActionTOTPEnroll         = "totp_enroll"
	ActionTOTPRemove         = "totp_remove"
	ActionRecoveryRegenerate = "recovery_codes_regenerate"
	ActionMFAReset           = "mfa_reset"
	ActionWebAuthnRegister   = "webauthn_register"
	ActionWebAuthnRemove     = "webauthn_remove"

	// User lifecycle (package account).
	ActionUserDisable        = "user_disable"
	ActionUserEnable         = "user_enable"
	ActionUserDelete         = "user_delete"
	ActionUserPasswordReset  = "user_password_reset"
	ActionUserThrottlesClear = "user_throttles_clear"
	ActionClientUpdate       = "client_update"
	ActionClientDelete       = "client_delete"
	ActionClientSecretRotate = "client_secret_rotate"
)

// Event is one thing that happened, with the context of the request or use
// that caused it. It is a plain value: publishing one allocates nothing.
// It never holds a raw token, password, secret or code: tokens are named by
// SessionID or JTI.
type Event struct {
	Kind Kind
	At   time.Time // when it happened (the time of use, for a validation)

	// The request or use context. Published while serving a request, an
	// event gets the request's id, and its IP and user agent unless the
	// publisher set them (FromContext, which Fanout and Logger apply).
	RequestID string     // the X-Request-Id of the request it happened in
	IP        netip.Addr // client address; zero if unknown
	UserAgent string
	ClientID  string // the OAuth client concerned or calling; "" for Tessera's own login

	// What it concerns.
	UserID    string
	SessionID string
	JTI       string // an access token's id
	KID       string // a signing key's id

	Reason     string        // why (a Reason* value or a revocation reason)
	Count      int           // how many sessions a bulk revocation ended
	Token      string        // TokenAccess, TokenRefresh or TokenSession
	Format     string        // an access token's format: "jwt" or "opaque"
	Grant      string        // TokenIssued: how it was obtained (Grant* values)
	Active     bool          // Introspected: whether the token was active
	RetryAfter time.Duration // LoginFailed with ReasonThrottled, TokenProbeThrottled
	Method     string        // a second factor's method ("totp", "recovery_code", "password", …)

	Actor, Action string // AdminAction

	// Via says how a SessionValidated credential reached Tessera when its
	// holder did not present it: ViaIntrospection or ViaRevocation.
	Via string
}

// Vias of SessionValidated: a client asked about the token (RFC 7662) or
// revoked it (RFC 7009); the use's address and user agent are the
// client's, not the token holder's.
const (
	ViaIntrospection = "introspection"
	ViaRevocation    = "revocation"
)

// LogValue renders the event as a group of its non-empty fields. Every
// string passes through a filter that redacts anything shaped like a Tessera
// token or a JWT, so even a field filled by mistake cannot leak one.
func (e Event) LogValue() slog.Value { return slog.GroupValue(e.Attrs()...) }

// Attrs returns the event's non-empty fields as log attributes, redacted as
// LogValue does; for logging an event's fields at the top level of a line.
func (e Event) Attrs() []slog.Attr {
	as := make([]slog.Attr, 0, 8)
	as = append(as, slog.String("event", e.Kind.String()))
	str := func(k, v string) {
		if v != "" {
			as = append(as, slog.String(k, redact(v)))
		}
	}
	if !e.At.IsZero() {
		as = append(as, slog.Time("at", e.At))
	}
	str("request_id", e.RequestID)
	if e.IP.IsValid() {
		as = append(as, slog.String("ip", e.IP.String()))
	}
	str("user_agent", e.UserAgent)
	str("client_id", e.ClientID)
	str("user_id", e.UserID)
	str("session_id", e.SessionID)
	str("jti", e.JTI)
	str("kid", e.KID)
	str("reason", e.Reason)
	if e.Count > 0 {
		as = append(as, slog.Int("count", e.Count))
	}
	str("token", e.Token)
	str("format", e.Format)
	str("method", e.Method)
	str("grant", e.Grant)
	if e.Kind == Introspected {
		as = append(as, slog.Bool("active", e.Active))
	}
	if e.RetryAfter > 0 {
		as = append(as, slog.Float64("retry_after_s", e.RetryAfter.Seconds()))
	}
	str("actor", e.Actor)
	str("action", e.Action)
	str("via", e.Via)
	return as
}

// redact hides v if it could be a credential: anything carrying a Tessera
// token prefix (tss_, tsr_, tsa_, tsc_, tsx_) or shaped like a JWS compact
// serialization (RFC 7515 §7.1: three base64url parts, a JSON header).
func redact(v string) string {
	for _, k := range []token.Kind{token.Session, token.Refresh, token.Access, token.MFA, token.ClientSecret, token.Admin} {
		if strings.Contains(v, k.Prefix()) {
			return "[redacted]"
		}
	}
	if strings.Contains(v, "eyJ") && strings.Count(v, ".") >= 2 {
		return "[redacted]"
	}
	return v
}

// Sink receives events. Publish must be safe for concurrent use, must not
// block for long (it runs on the request path, after the state change
// it reports) and cannot fail the operation: a subscriber that can fail
// handles its own errors.
type Sink interface {
	Publish(ctx context.Context, e Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, e Event)

// Publish calls f.
func (f SinkFunc) Publish(ctx context.Context, e Event) { f(ctx, e) }

// Discard is a Sink that drops every event.
var Discard Sink = discard{}

type discard struct{}

func (discard) Publish(context.Context, Event) {}
