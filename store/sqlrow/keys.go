package sqlrow

import (
	"fmt"

	"github.com/tessera-auth/tessera/store"
)

// The signing-key statements both backends run ($n placeholders; SQLite
// runs them through SQLite).
const (
	InsertKeySQL = "INSERT INTO signing_keys (" + KeyCols + ") VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, NULL)"
	KeySQL       = "SELECT " + KeyCols + " FROM signing_keys WHERE id = $1"
	// RevokeKeySQL retires the key $2 (keeping an earlier retirement
	// time) and marks it revoked at $1.
	RevokeKeySQL = "UPDATE signing_keys SET state = 'retired', retired_at = coalesce(retired_at, $1), revoked_at = $1 WHERE id = $2"
)

// InsertKeyArgs are InsertKeySQL's arguments for k; a key not yet
// activated stores NULL.
func InsertKeyArgs(k store.SigningKey) []any {
	var activated *int64
	if !k.ActivatedAt.IsZero() {
		v := Micros(k.ActivatedAt)
		activated = &v
	}
	return []any{k.ID, k.Alg, k.State, Micros(k.CreatedAt), activated, k.PublicJWK, k.PrivateJWE}
}

// CheckKeyRevoke is store.SigningKeys.RevokeSigningKey's rule for k as
// stored: done when k is revoked already (revoking again changes
// nothing); ErrConflict for the active key (rotate first) and for the
// next key without a replacement, which would leave no key to rotate to.
func CheckKeyRevoke(k store.SigningKey, hasReplacement bool) (done bool, err error) {
	switch {
	case !k.RevokedAt.IsZero():
		return true, nil
	case k.State == store.KeyActive:
		return false, fmt.Errorf("the active key cannot be revoked: %w", store.ErrConflict)
	case k.State == store.KeyNext && !hasReplacement:
		return false, fmt.Errorf("revoking the next key needs its replacement: %w", store.ErrConflict)
	}
	return false, nil
}
