package sqlrow

import (
	"fmt"
	"strings"

	"github.com/tessera-auth/tessera/store"
)

// Column lists of the second-factor tables, in the order the scanners read them.
const (
	TOTPCols         = "user_id, sealed_secret, created_at, confirmed_at, last_step"
	MFAChallengeCols = "token_hash, user_id, delivery, client_id, amr, created_at, expires_at, attempts, used_at"
)

// TOTP reads TOTPCols.
func TOTP(row Scanner) (store.TOTP, error) {
	var t store.TOTP
	var created int64
	var confirmed *int64
	if err := row.Scan(&t.UserID, &t.SealedSecret, &created, &confirmed, &t.LastStep); err != nil {
		return store.TOTP{}, err
	}
	t.CreatedAt, t.ConfirmedAt = FromMicros(created), fromNullMicros(confirmed)
	return t, nil
}

// MFAChallenge reads MFAChallengeCols.
func MFAChallenge(row Scanner) (store.MFAChallenge, error) {
	var c store.MFAChallenge
	var hash []byte
	var amr string
	var created, expires, attempts int64
	var used *int64
	if err := row.Scan(&hash, &c.UserID, &c.Delivery, &c.ClientID, &amr, &created, &expires, &attempts, &used); err != nil {
		return store.MFAChallenge{}, err
	}
	if len(hash) != len(c.Hash) {
		return store.MFAChallenge{}, fmt.Errorf("mfa challenge: token hash has %d bytes", len(hash))
	}
	copy(c.Hash[:], hash)
	if amr != "" {
		c.AMR = strings.Split(amr, ",")
	}
	c.CreatedAt, c.ExpiresAt, c.Attempts, c.UsedAt = FromMicros(created), FromMicros(expires), int(attempts), fromNullMicros(used)
	return c, nil
}
