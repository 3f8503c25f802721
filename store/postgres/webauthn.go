package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

// WebAuthn credentials and ceremonies. The counter update is one
// conditional statement (READ COMMITTED re-checks its WHERE after a
// concurrent update), and taking a ceremony is one DELETE … RETURNING:
// of two racing takes, one gets the row.

func (s *Store) CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	_, err := s.execOne(ctx, "INSERT INTO webauthn_credentials ("+sqlrow.WebAuthnCredentialCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
		sqlrow.WebAuthnCredentialArgs(c)...)
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create webauthn credential: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create webauthn credential: %w", err)
	}
	return nil
}

func (s *Store) WebAuthnCredentialsByUser(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.WebAuthnCredentialCols+" FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id", userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: webauthn credentials: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.WebAuthnCredential)
	if err != nil {
		return nil, fmt.Errorf("postgres: webauthn credentials: %w", err)
	}
	return out, nil
}

func (s *Store) WebAuthnCredentialByID(ctx context.Context, id []byte) (store.WebAuthnCredential, error) {
	c, err := found(sqlrow.WebAuthnCredential(s.pool.QueryRow(ctx, "SELECT "+sqlrow.WebAuthnCredentialCols+" FROM webauthn_credentials WHERE id = $1", id)))
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("postgres: webauthn credential: %w", err)
	}
	return c, nil
}

func (s *Store) CountWebAuthnCredentials(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM webauthn_credentials WHERE user_id = $1", userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count webauthn credentials: %w", err)
	}
	return n, nil
}

func (s *Store) AdvanceWebAuthnCounter(ctx context.Context, id []byte, count uint32, backupState bool, at time.Time) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webauthn_credentials SET sign_count = $1, backup_state = $2, last_used_at = $3
			WHERE id = $4 AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))`,
			int64(count), backupState, sqlrow.Micros(at), id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var one int
		if err := tx.QueryRow(ctx, "SELECT 1 FROM webauthn_credentials WHERE id = $1", id).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		return store.ErrStale
	})
	if err != nil {
		return fmt.Errorf("postgres: advance webauthn counter: %w", err)
	}
	return nil
}

func (s *Store) FlagWebAuthnClone(ctx context.Context, id []byte, backupState bool, at time.Time) error {
	n, err := s.execOne(ctx, "UPDATE webauthn_credentials SET clone_warning = true, backup_state = $1, last_used_at = $2 WHERE id = $3",
		backupState, sqlrow.Micros(at), id)
	if err != nil {
		return fmt.Errorf("postgres: flag webauthn clone: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: flag webauthn clone: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) error {
	n, err := s.execOne(ctx, "DELETE FROM webauthn_credentials WHERE user_id = $1 AND id = $2", userID, id)
	if err != nil {
		return fmt.Errorf("postgres: delete webauthn credential: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: delete webauthn credential: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) CreateWebAuthnCeremony(ctx context.Context, c store.WebAuthnCeremony) error {
	_, err := s.execOne(ctx, "INSERT INTO webauthn_ceremonies ("+sqlrow.WebAuthnCeremonyCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		sqlrow.WebAuthnCeremonyArgs(c)...)
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create webauthn ceremony: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create webauthn ceremony: %w", err)
	}
	return nil
}

func (s *Store) TakeWebAuthnCeremony(ctx context.Context, hash [32]byte) (store.WebAuthnCeremony, error) {
	var c store.WebAuthnCeremony
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = found(sqlrow.WebAuthnCeremony(tx.QueryRow(ctx,
			"DELETE FROM webauthn_ceremonies WHERE challenge_hash = $1 RETURNING "+sqlrow.WebAuthnCeremonyCols, hash[:])))
		return err
	})
	if err != nil {
		return store.WebAuthnCeremony{}, fmt.Errorf("postgres: take webauthn ceremony: %w", err)
	}
	return c, nil
}

func (s *Store) DeleteExpiredWebAuthnCeremonies(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := s.execOne(ctx, "DELETE FROM webauthn_ceremonies WHERE expires_at < $1", sqlrow.Micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired webauthn ceremonies: %w", err)
	}
	return int(n), nil
}
