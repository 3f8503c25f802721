package store

import (
	"context"
	"time"

	"github.com/tessera-auth/tessera/token"
)

// TOTP is a user's RFC 6238 authenticator. Its secret is stored only
// sealed under the master key (mfa seals and opens it).
type TOTP struct {
	UserID       string
	SealedSecret string // compact JWE; never logged
	CreatedAt    time.Time
	// ConfirmedAt is zero while the enrollment is pending: a pending
	// secret is no factor, and login does not ask for it.
	ConfirmedAt time.Time
	// LastStep is the RFC 6238 time step of the last accepted code (0:
	// none). A code of this step or an earlier one is a replay.
	LastStep int64
}

// RecoveryCode is one single-use recovery code; only its SHA-256 is kept.
type RecoveryCode struct {
	UserID    string
	Hash      [32]byte
	CreatedAt time.Time
	UsedAt    time.Time // zero while unused
}

// MFAChallenge is a login whose password was accepted and whose second
// factor is awaited: the state behind an mfa_token. Only the token's
// SHA-256 is kept.
type MFAChallenge struct {
	Hash     token.Hash
	UserID   string
	Delivery string // "cookie" or "token": fixed at the password step
	ClientID string // the public client named at the password step, or ""
	// AMR are the methods already proven (["pwd"]).
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
	Attempts  int       // second-factor attempts so far
	UsedAt    time.Time // zero until the challenge completed a login
}

// Factors stores second factors and pending second-factor challenges.
// Every method is an atomic primitive: the policy (what is a replay, how
// many attempts, how long a challenge lives) is the caller's, passed in.
type Factors interface {
	// PutPendingTOTP stores t (ConfirmedAt zero) as the user's pending
	// enrollment, replacing a pending one; ErrConflict if the user has a
	// confirmed TOTP.
	PutPendingTOTP(ctx context.Context, t TOTP) error
	// TOTPByUser returns the user's TOTP, pending or confirmed; ErrNotFound if none.
	TOTPByUser(ctx context.Context, userID string) (TOTP, error)
	// ConfirmTOTP makes the user's pending TOTP confirmed at at, with
	// step as its last accepted step, and replaces the user's recovery
	// codes by codes, in one transaction. ErrStale if there is no pending
	// TOTP sealed as sealedSecret (it was replaced or confirmed meanwhile).
	ConfirmTOTP(ctx context.Context, userID, sealedSecret string, step int64, at time.Time, codes []RecoveryCode) error
	// AdvanceTOTPStep records step as the last accepted step of the
	// user's confirmed TOTP, only if the stored one is lower: a
	// conditional update, so that of two nodes accepting the same code
	// exactly one succeeds. ErrStale if the stored step is step or
	// higher (a replay), ErrNotFound if there is no confirmed TOTP.
	AdvanceTOTPStep(ctx context.Context, userID string, step int64) error
	// DeleteTOTP removes the user's TOTP, pending or confirmed;
	// ErrNotFound if there is none.
	DeleteTOTP(ctx context.Context, userID string) error

	// ReplaceRecoveryCodes deletes the user's recovery codes and stores
	// codes (may be empty) in one transaction.
	ReplaceRecoveryCodes(ctx context.Context, userID string, codes []RecoveryCode) error
	// UseRecoveryCode marks the user's unused code with this hash used at
	// at, atomically: of concurrent uses of one code exactly one
	// succeeds. ErrNotFound if the user has no such unused code.
	UseRecoveryCode(ctx context.Context, userID string, hash [32]byte, at time.Time) error
	// CountRecoveryCodes returns how many of the user's codes are unused.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
	// DeleteFactors removes every second factor of the user (TOTP,
	// recovery codes, and pending challenges) in one transaction: an
	// admin reset.
	DeleteFactors(ctx context.Context, userID string) error

	// CreateMFAChallenge stores c; ErrConflict if its hash exists.
	CreateMFAChallenge(ctx context.Context, c MFAChallenge) error
	// MFAChallengeByHash returns a challenge as stored, counting nothing
	// (a WebAuthn ceremony reads its user before the attempt); ErrNotFound
	// if none.
	MFAChallengeByHash(ctx context.Context, h token.Hash) (MFAChallenge, error)
	// AttemptMFAChallenge counts one second-factor attempt on the
	// challenge, only if it is unused, unexpired at now and has had fewer
	// than maxAttempts attempts, and returns it as updated. Otherwise it
	// changes nothing and returns the challenge as stored with ErrStale.
	// ErrNotFound if there is no such challenge. Atomic: concurrent
	// attempts never count past maxAttempts.
	AttemptMFAChallenge(ctx context.Context, h token.Hash, maxAttempts int, now time.Time) (MFAChallenge, error)
	// ConsumeMFAChallenge marks the challenge used at at, only if it is
	// unused: of concurrent completions exactly one succeeds, the others
	// get ErrStale. ErrNotFound if there is no such challenge.
	ConsumeMFAChallenge(ctx context.Context, h token.Hash, at time.Time) error
	// DeleteExpiredMFAChallenges removes challenges that expired before cutoff.
	DeleteExpiredMFAChallenges(ctx context.Context, cutoff time.Time) (int, error)
}
