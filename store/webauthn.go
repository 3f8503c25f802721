package store

import (
	"context"
	"time"
)

// WebAuthnCredential is a registered passkey or security key (W3C
// WebAuthn Level 3 §4 "credential record"). Only public material is
// kept: the credential's public key never signs anything here.
type WebAuthnCredential struct {
	ID        []byte // the credential id the authenticator chose; unique across users
	UserID    string
	Name      string // the user's label
	PublicKey []byte // COSE_Key (RFC 9052 §7)
	// SignCount is the last signature counter seen (§6.1.1); 0 for
	// authenticators that keep none.
	SignCount         uint32
	Transports        []string // "usb", "nfc", "ble", "internal", "hybrid", …
	AAGUID            []byte   // the authenticator model (16 bytes; zeros with "none" attestation)
	AttestationFormat string   // "none", "packed", …
	// BackupEligible (BE) and BackupState (BS), §6.1 flags: a credential
	// that may be synced to other devices is a synced passkey, not a
	// hardware-bound key. BE never changes for a credential.
	BackupEligible, BackupState bool
	// UserVerified: the authenticator verified the user (UV) when the
	// credential was registered.
	UserVerified bool
	// CloneWarning: an assertion once came with a counter that did not
	// increase (a possibly cloned authenticator), and policy let it in.
	CloneWarning bool
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero until first used
}

// WebAuthnCeremony is the server-side state of one registration or
// authentication ceremony, between its options and its response (§7.1
// step 8, §7.2 step 9: the challenge the RP issued). Only the SHA-256
// of the challenge keys it.
type WebAuthnCeremony struct {
	Hash [32]byte // SHA-256 of the challenge as sent (base64url)
	Kind string   // "register", "login" (a second factor) or "passwordless"
	// UserID is the user registering or being asked for a second
	// factor; "" for a passwordless login.
	UserID string
	// MFAHash is the hash of the mfa_token a second-factor ceremony
	// answers; zero otherwise.
	MFAHash   [32]byte
	Name      string // a registration's credential name
	State     []byte // the WebAuthn library's session data, JSON
	CreatedAt time.Time
	ExpiresAt time.Time
}

// WebAuthn stores WebAuthn credentials and ceremonies. Atomic
// primitives only: the counter and expiry policies are the caller's.
type WebAuthn interface {
	// CreateWebAuthnCredential stores c; ErrConflict if a credential with
	// its id exists (for any user).
	CreateWebAuthnCredential(ctx context.Context, c WebAuthnCredential) error
	// WebAuthnCredentialsByUser returns the user's credentials, oldest first.
	WebAuthnCredentialsByUser(ctx context.Context, userID string) ([]WebAuthnCredential, error)
	// WebAuthnCredentialByID returns the credential; ErrNotFound if none.
	WebAuthnCredentialByID(ctx context.Context, id []byte) (WebAuthnCredential, error)
	// CountWebAuthnCredentials returns how many credentials the user has.
	CountWebAuthnCredentials(ctx context.Context, userID string) (int, error)
	// AdvanceWebAuthnCounter records a use of the credential at at: its
	// sign count becomes count and its backup state backupState, only if
	// the stored count is lower than count, or both are 0 (an
	// authenticator without a counter). A conditional update: of two
	// uses presenting the same counter at once, exactly one succeeds.
	// ErrStale if the stored count is not lower, ErrNotFound if there is
	// no such credential.
	AdvanceWebAuthnCounter(ctx context.Context, id []byte, count uint32, backupState bool, at time.Time) error
	// FlagWebAuthnClone records a use at at whose counter did not
	// increase and that policy let in: CloneWarning is set, the count
	// is left as it is. ErrNotFound if there is no such credential.
	FlagWebAuthnClone(ctx context.Context, id []byte, backupState bool, at time.Time) error
	// DeleteWebAuthnCredential removes the user's credential; ErrNotFound
	// if the user has no credential with this id.
	DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) error

	// CreateWebAuthnCeremony stores c; ErrConflict if its hash exists.
	CreateWebAuthnCeremony(ctx context.Context, c WebAuthnCeremony) error
	// TakeWebAuthnCeremony removes the ceremony and returns it, in one
	// statement: of concurrent takes exactly one gets it, the others get
	// ErrNotFound (as for an unknown one). Expiry is the caller's check.
	TakeWebAuthnCeremony(ctx context.Context, hash [32]byte) (WebAuthnCeremony, error)
	// DeleteExpiredWebAuthnCeremonies removes ceremonies that expired
	// before cutoff.
	DeleteExpiredWebAuthnCeremonies(ctx context.Context, cutoff time.Time) (int, error)
}
