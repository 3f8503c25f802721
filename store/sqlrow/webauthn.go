package sqlrow

import (
	"fmt"
	"strings"

	"github.com/tessera-auth/tessera/store"
)

// Column lists of the WebAuthn tables, in the order the scanners read them.
const (
	WebAuthnCredentialCols = "id, user_id, name, public_key, sign_count, transports, aaguid, attestation_format, backup_eligible, backup_state, user_verified, clone_warning, created_at, last_used_at"
	WebAuthnCeremonyCols   = "challenge_hash, kind, user_id, mfa_hash, name, state, created_at, expires_at"
)

// WebAuthnCredentialArgs are c's values in WebAuthnCredentialCols order.
func WebAuthnCredentialArgs(c store.WebAuthnCredential) []any {
	var last *int64
	if !c.LastUsedAt.IsZero() {
		v := Micros(c.LastUsedAt)
		last = &v
	}
	aaguid := c.AAGUID
	if aaguid == nil {
		aaguid = []byte{}
	}
	return []any{c.ID, c.UserID, c.Name, c.PublicKey, int64(c.SignCount), strings.Join(c.Transports, ","), aaguid,
		c.AttestationFormat, c.BackupEligible, c.BackupState, c.UserVerified, c.CloneWarning, Micros(c.CreatedAt), last}
}

// WebAuthnCredential reads WebAuthnCredentialCols.
func WebAuthnCredential(row Scanner) (store.WebAuthnCredential, error) {
	var c store.WebAuthnCredential
	var count, created int64
	var transports string
	var last *int64
	if err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.PublicKey, &count, &transports, &c.AAGUID, &c.AttestationFormat,
		&c.BackupEligible, &c.BackupState, &c.UserVerified, &c.CloneWarning, &created, &last); err != nil {
		return store.WebAuthnCredential{}, err
	}
	if count < 0 || count > 1<<32-1 {
		return store.WebAuthnCredential{}, fmt.Errorf("webauthn credential: sign count %d out of range", count)
	}
	c.SignCount = uint32(count)
	if transports != "" {
		c.Transports = strings.Split(transports, ",")
	}
	c.CreatedAt, c.LastUsedAt = FromMicros(created), fromNullMicros(last)
	return c, nil
}

// WebAuthnCeremonyArgs are c's values in WebAuthnCeremonyCols order.
func WebAuthnCeremonyArgs(c store.WebAuthnCeremony) []any {
	return []any{c.Hash[:], c.Kind, c.UserID, c.MFAHash[:], c.Name, c.State, Micros(c.CreatedAt), Micros(c.ExpiresAt)}
}

// WebAuthnCeremony reads WebAuthnCeremonyCols.
func WebAuthnCeremony(row Scanner) (store.WebAuthnCeremony, error) {
	var c store.WebAuthnCeremony
	var hash, mfaHash []byte
	var created, expires int64
	if err := row.Scan(&hash, &c.Kind, &c.UserID, &mfaHash, &c.Name, &c.State, &created, &expires); err != nil {
		return store.WebAuthnCeremony{}, err
	}
	if len(hash) != len(c.Hash) || len(mfaHash) != len(c.MFAHash) {
		return store.WebAuthnCeremony{}, fmt.Errorf("webauthn ceremony: hash lengths %d, %d", len(hash), len(mfaHash))
	}
	copy(c.Hash[:], hash)
	copy(c.MFAHash[:], mfaHash)
	c.CreatedAt, c.ExpiresAt = FromMicros(created), FromMicros(expires)
	return c, nil
}
