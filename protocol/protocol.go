package protocol

import (
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
)

// Introspection is an RFC 7662 §2.2 answer. An inactive token answers
// exactly {"active":false}: every other member is omitted when empty.
type Introspection struct {
	Active    bool                 `json:"active"`
	Scope     string               `json:"scope,omitempty"`
	ClientID  string               `json:"client_id,omitempty"`
	Username  string               `json:"username,omitempty"`
	TokenType string               `json:"token_type,omitempty"`
	Exp       int64                `json:"exp,omitempty"`
	Iat       int64                `json:"iat,omitempty"`
	Sub       string               `json:"sub,omitempty"`
	Aud       accesstoken.Audience `json:"aud,omitempty"`
	Iss       string               `json:"iss,omitempty"`
	Jti       string               `json:"jti,omitempty"`
	Sid       string               `json:"sid,omitempty"`
	// The authentication behind the token (RFC 9470 §6.2 and RFC 8176):
	// when the user last proved a credential, the assurance level
	// ("aal1".."aal3") and the methods.
	AuthTime int64    `json:"auth_time,omitempty"`
	ACR      string   `json:"acr,omitempty"`
	AMR      []string `json:"amr,omitempty"`
}

// FeedEntry is one revocation on the feed (GET /v1/revocations): a
// session (SID), a single access token (JTI), or a signing key (KID: drop
// the key, and refuse every token it signed) that verifiers must refuse
// until Until. A follower that predates KID entries ignores them (an entry
// with neither sid nor jti names nothing it knows).
//
// An entry carries no more than a verifier needs (issue 10): no user id,
// and no reason for a session or token — why a user's session ended
// (a password change, a detected theft) is not every verifier's business.
// Only a key entry says why (key_compromised), since operators of
// verifiers need to know that one.
type FeedEntry struct {
	Seq    int64     `json:"seq"`
	SID    string    `json:"sid,omitempty"`
	JTI    string    `json:"jti,omitempty"`
	KID    string    `json:"kid,omitempty"`
	Until  time.Time `json:"until"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"` // key entries only
}

// FeedPage is one answer of the revocation feed. Cursor is opaque to
// followers: they send it back as "since" to read what came after.
type FeedPage struct {
	Cursor      string      `json:"cursor"`
	Revocations []FeedEntry `json:"revocations"`
}

// TokenResponse is the RFC 6749 §5.1 successful token answer.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// TokenError is the RFC 6749 §5.2 error answer of the OAuth endpoints
// (token, introspection, revocation).
type TokenError struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

// Problem is an RFC 9457 problem detail (application/problem+json), the
// error answer of every non-OAuth endpoint. Code is the stable,
// machine-readable name clients branch on; Detail is safe to show a user
// and never carries a secret or an internal error.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code"`
}

// Whoami is the answer of GET /v1/session.
type Whoami struct {
	Session Session `json:"session"`
	User    User    `json:"user"`
	// CSRFToken is sent to cookie-authenticated callers only, so that a
	// reloaded page can recover it.
	CSRFToken string `json:"csrf_token,omitempty"`
}

// Session describes a session to its owner.
type Session struct {
	ID            string    `json:"id"`
	UserID        string    `json:"user_id"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
	AuthTime      time.Time `json:"auth_time"`
	AMR           []string  `json:"amr"`
	AAL           int       `json:"aal"`
	// StepUpRequired: the session must re-authenticate (POST /v1/reauth)
	// before its next sensitive use; until then it vouches for no
	// auth_time to services (access tokens, introspection). Absent when false.
	StepUpRequired bool `json:"step_up_required,omitempty"`
}

// User names the owner of a session.
type User struct {
	ID       string `json:"id"`
	Username string `json:"username"`
}
