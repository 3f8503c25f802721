package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

// WebAuthn credentials and ceremonies. SQLite has one writer: each
// conditional UPDATE and each DELETE … RETURNING is atomic against every
// other write.

func (s *Store) CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	_, err := s.exec(ctx, "INSERT INTO webauthn_credentials ("+sqlrow.WebAuthnCredentialCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		sqlrow.WebAuthnCredentialArgs(c)...)
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: create webauthn credential: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create webauthn credential: %w", err)
	}
	return nil
}

func (s *Store) WebAuthnCredentialsByUser(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqlrow.WebAuthnCredentialCols+" FROM webauthn_credentials WHERE user_id = ? ORDER BY created_at, id", userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webauthn credentials: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.WebAuthnCredential)
	if err != nil {
		return nil, fmt.Errorf("sqlite: webauthn credentials: %w", err)
	}
	return out, nil
}

func (s *Store) WebAuthnCredentialByID(ctx context.Context, id []byte) (store.WebAuthnCredential, error) {
	c, err := found(sqlrow.WebAuthnCredential(s.r.QueryRowContext(ctx, "SELECT "+sqlrow.WebAuthnCredentialCols+" FROM webauthn_credentials WHERE id = ?", id)))
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("sqlite: webauthn credential: %w", err)
	}
	return c, nil
}

func (s *Store) CountWebAuthnCredentials(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM webauthn_credentials WHERE user_id = ?", userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count webauthn credentials: %w", err)
	}
	return n, nil
}

func (s *Store) AdvanceWebAuthnCounter(ctx context.Context, id []byte, count uint32, backupState bool, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webauthn_credentials SET sign_count = ?, backup_state = ?, last_used_at = ?
			WHERE id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
			int64(count), backupState, sqlrow.Micros(at), id, int64(count), int64(count))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM webauthn_credentials WHERE id = ?", id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		return store.ErrStale
	})
	if err != nil {
		return fmt.Errorf("sqlite: advance webauthn counter: %w", err)
	}
	return nil
}

func (s *Store) FlagWebAuthnClone(ctx context.Context, id []byte, backupState bool, at time.Time) error {
	res, err := s.exec(ctx, "UPDATE webauthn_credentials SET clone_warning = ?, backup_state = ?, last_used_at = ? WHERE id = ?",
		true, backupState, sqlrow.Micros(at), id)
	if err != nil {
		return fmt.Errorf("sqlite: flag webauthn clone: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: flag webauthn clone: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) error {
	res, err := s.exec(ctx, "DELETE FROM webauthn_credentials WHERE user_id = ? AND id = ?", userID, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete webauthn credential: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: delete webauthn credential: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) CreateWebAuthnCeremony(ctx context.Context, c store.WebAuthnCeremony) error {
	_, err := s.exec(ctx, "INSERT INTO webauthn_ceremonies ("+sqlrow.WebAuthnCeremonyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		sqlrow.WebAuthnCeremonyArgs(c)...)
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: create webauthn ceremony: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create webauthn ceremony: %w", err)
	}
	return nil
}

func (s *Store) TakeWebAuthnCeremony(ctx context.Context, hash [32]byte) (store.WebAuthnCeremony, error) {
	var c store.WebAuthnCeremony
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = found(sqlrow.WebAuthnCeremony(tx.QueryRowContext(ctx,
			"DELETE FROM webauthn_ceremonies WHERE challenge_hash = ? RETURNING "+sqlrow.WebAuthnCeremonyCols, hash[:])))
		return err
	})
	if err != nil {
		return store.WebAuthnCeremony{}, fmt.Errorf("sqlite: take webauthn ceremony: %w", err)
	}
	return c, nil
}

func (s *Store) DeleteExpiredWebAuthnCeremonies(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.exec(ctx, "DELETE FROM webauthn_ceremonies WHERE expires_at < ?", sqlrow.Micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired webauthn ceremonies: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
