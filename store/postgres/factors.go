package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/token"
)

// Second factors. Each conditional UPDATE is one statement: under READ
// COMMITTED an UPDATE that waited for a concurrent one re-checks its
// WHERE against the committed row, so of two racing uses exactly one
// matches (a TOTP step, a recovery code, a challenge's last attempt).

func (s *Store) PutPendingTOTP(ctx context.Context, t store.TOTP) error {
	n, err := s.execOne(ctx, `INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_step)
		VALUES ($1, $2, $3, NULL, 0)
		ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, created_at = excluded.created_at, last_step = 0
		WHERE mfa_totp.confirmed_at IS NULL`,
		t.UserID, t.SealedSecret, sqlrow.Micros(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("postgres: put pending totp: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: put pending totp: %w", store.ErrConflict)
	}
	return nil
}

func (s *Store) TOTPByUser(ctx context.Context, userID string) (store.TOTP, error) {
	t, err := found(sqlrow.TOTP(s.pool.QueryRow(ctx, "SELECT "+sqlrow.TOTPCols+" FROM mfa_totp WHERE user_id = $1", userID)))
	if err != nil {
		return store.TOTP{}, fmt.Errorf("postgres: totp: %w", err)
	}
	return t, nil
}

func (s *Store) ConfirmTOTP(ctx context.Context, userID, sealedSecret string, step int64, at time.Time, codes []store.RecoveryCode) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE mfa_totp SET confirmed_at = $1, last_step = $2
			WHERE user_id = $3 AND sealed_secret = $4 AND confirmed_at IS NULL`, sqlrow.Micros(at), step, userID, sealedSecret)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrStale
		}
		return replaceCodes(ctx, tx, userID, codes)
	})
	if err != nil {
		return fmt.Errorf("postgres: confirm totp: %w", err)
	}
	return nil
}

func (s *Store) AdvanceTOTPStep(ctx context.Context, userID string, step int64) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE mfa_totp SET last_step = $1
			WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $1`, step, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var one int
		err = tx.QueryRow(ctx, "SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL", userID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return store.ErrStale
	})
	if err != nil {
		return fmt.Errorf("postgres: advance totp step: %w", err)
	}
	return nil
}

func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	n, err := s.execOne(ctx, "DELETE FROM mfa_totp WHERE user_id = $1", userID)
	if err != nil {
		return fmt.Errorf("postgres: delete totp: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: delete totp: %w", store.ErrNotFound)
	}
	return nil
}

func replaceCodes(ctx context.Context, tx pgx.Tx, userID string, codes []store.RecoveryCode) error {
	if _, err := tx.Exec(ctx, "DELETE FROM mfa_recovery_codes WHERE user_id = $1", userID); err != nil {
		return err
	}
	for _, c := range codes {
		if _, err := tx.Exec(ctx, "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at, used_at) VALUES ($1, $2, $3, NULL)",
			userID, c.Hash[:], sqlrow.Micros(c.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, codes []store.RecoveryCode) error {
	if err := s.tx(ctx, func(tx pgx.Tx) error { return replaceCodes(ctx, tx, userID, codes) }); err != nil {
		return fmt.Errorf("postgres: replace recovery codes: %w", err)
	}
	return nil
}

func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash [32]byte, at time.Time) error {
	n, err := s.execOne(ctx, "UPDATE mfa_recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
		sqlrow.Micros(at), userID, hash[:])
	if err != nil {
		return fmt.Errorf("postgres: use recovery code: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: use recovery code: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL", userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count recovery codes: %w", err)
	}
	return n, nil
}

func (s *Store) DeleteFactors(ctx context.Context, userID string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{
			"DELETE FROM mfa_totp WHERE user_id = $1",
			"DELETE FROM mfa_recovery_codes WHERE user_id = $1",
			"DELETE FROM mfa_challenges WHERE user_id = $1",
		} {
			if _, err := tx.Exec(ctx, q, userID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: delete factors: %w", err)
	}
	return nil
}

func (s *Store) CreateMFAChallenge(ctx context.Context, c store.MFAChallenge) error {
	_, err := s.execOne(ctx, "INSERT INTO mfa_challenges ("+sqlrow.MFAChallengeCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)",
		c.Hash[:], c.UserID, c.Delivery, c.ClientID, strings.Join(c.AMR, ","), sqlrow.Micros(c.CreatedAt), sqlrow.Micros(c.ExpiresAt), c.Attempts)
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create mfa challenge: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create mfa challenge: %w", err)
	}
	return nil
}

func (s *Store) MFAChallengeByHash(ctx context.Context, h token.Hash) (store.MFAChallenge, error) {
	c, err := found(sqlrow.MFAChallenge(s.pool.QueryRow(ctx, "SELECT "+sqlrow.MFAChallengeCols+" FROM mfa_challenges WHERE token_hash = $1", h[:])))
	if err != nil {
		return store.MFAChallenge{}, fmt.Errorf("postgres: mfa challenge: %w", err)
	}
	return c, nil
}

func (s *Store) AttemptMFAChallenge(ctx context.Context, h token.Hash, maxAttempts int, now time.Time) (store.MFAChallenge, error) {
	var c store.MFAChallenge
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = found(sqlrow.MFAChallenge(tx.QueryRow(ctx, `UPDATE mfa_challenges SET attempts = attempts + 1
			WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3
			RETURNING `+sqlrow.MFAChallengeCols, h[:], sqlrow.Micros(now), maxAttempts)))
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		c, err = found(sqlrow.MFAChallenge(tx.QueryRow(ctx, "SELECT "+sqlrow.MFAChallengeCols+" FROM mfa_challenges WHERE token_hash = $1", h[:])))
		if err != nil {
			return err
		}
		return store.ErrStale
	})
	if err != nil {
		return c, fmt.Errorf("postgres: attempt mfa challenge: %w", err)
	}
	return c, nil
}

func (s *Store) ConsumeMFAChallenge(ctx context.Context, h token.Hash, at time.Time) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE mfa_challenges SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL", sqlrow.Micros(at), h[:])
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var one int
		if err := tx.QueryRow(ctx, "SELECT 1 FROM mfa_challenges WHERE token_hash = $1", h[:]).Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		return store.ErrStale
	})
	if err != nil {
		return fmt.Errorf("postgres: consume mfa challenge: %w", err)
	}
	return nil
}

func (s *Store) DeleteExpiredMFAChallenges(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := s.execOne(ctx, "DELETE FROM mfa_challenges WHERE expires_at < $1", sqlrow.Micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired mfa challenges: %w", err)
	}
	return int(n), nil
}
