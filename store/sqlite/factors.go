package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/token"
)

// Second factors. SQLite has one writer: every conditional UPDATE below is
// atomic against every other write, in this process and in others.

func (s *Store) PutPendingTOTP(ctx context.Context, t store.TOTP) error {
	// One statement: a confirmed TOTP is never replaced (the WHERE of the
	// upsert leaves it, and no row changes).
	res, err := s.exec(ctx, `INSERT INTO mfa_totp (user_id, sealed_secret, created_at, confirmed_at, last_step)
		VALUES (?, ?, ?, NULL, 0)
		ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, created_at = excluded.created_at, last_step = 0
		WHERE mfa_totp.confirmed_at IS NULL`,
		t.UserID, t.SealedSecret, sqlrow.Micros(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: put pending totp: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: put pending totp: %w", store.ErrConflict)
	}
	return nil
}

func (s *Store) TOTPByUser(ctx context.Context, userID string) (store.TOTP, error) {
	t, err := found(sqlrow.TOTP(s.r.QueryRowContext(ctx, "SELECT "+sqlrow.TOTPCols+" FROM mfa_totp WHERE user_id = ?", userID)))
	if err != nil {
		return store.TOTP{}, fmt.Errorf("sqlite: totp: %w", err)
	}
	return t, nil
}

func (s *Store) ConfirmTOTP(ctx context.Context, userID, sealedSecret string, step int64, at time.Time, codes []store.RecoveryCode) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mfa_totp SET confirmed_at = ?, last_step = ?
			WHERE user_id = ? AND sealed_secret = ? AND confirmed_at IS NULL`, sqlrow.Micros(at), step, userID, sealedSecret)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrStale
		}
		return replaceCodes(ctx, tx, userID, codes)
	})
	if err != nil {
		return fmt.Errorf("sqlite: confirm totp: %w", err)
	}
	return nil
}

func (s *Store) AdvanceTOTPStep(ctx context.Context, userID string, step int64) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE mfa_totp SET last_step = ?
			WHERE user_id = ? AND confirmed_at IS NOT NULL AND last_step < ?`, step, userID, step)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var one int
		err = tx.QueryRowContext(ctx, "SELECT 1 FROM mfa_totp WHERE user_id = ? AND confirmed_at IS NOT NULL", userID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return store.ErrStale
	})
	if err != nil {
		return fmt.Errorf("sqlite: advance totp step: %w", err)
	}
	return nil
}

func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	res, err := s.exec(ctx, "DELETE FROM mfa_totp WHERE user_id = ?", userID)
	if err != nil {
		return fmt.Errorf("sqlite: delete totp: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: delete totp: %w", store.ErrNotFound)
	}
	return nil
}

func replaceCodes(ctx context.Context, tx *sql.Tx, userID string, codes []store.RecoveryCode) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM mfa_recovery_codes WHERE user_id = ?", userID); err != nil {
		return err
	}
	for _, c := range codes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at, used_at) VALUES (?, ?, ?, NULL)",
			userID, c.Hash[:], sqlrow.Micros(c.CreatedAt)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, codes []store.RecoveryCode) error {
	if err := s.tx(ctx, func(tx *sql.Tx) error { return replaceCodes(ctx, tx, userID, codes) }); err != nil {
		return fmt.Errorf("sqlite: replace recovery codes: %w", err)
	}
	return nil
}

func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash [32]byte, at time.Time) error {
	res, err := s.exec(ctx, "UPDATE mfa_recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
		sqlrow.Micros(at), userID, hash[:])
	if err != nil {
		return fmt.Errorf("sqlite: use recovery code: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: use recovery code: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ? AND used_at IS NULL", userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count recovery codes: %w", err)
	}
	return n, nil
}

func (s *Store) DeleteFactors(ctx context.Context, userID string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			"DELETE FROM mfa_totp WHERE user_id = ?",
			"DELETE FROM mfa_recovery_codes WHERE user_id = ?",
			"DELETE FROM mfa_challenges WHERE user_id = ?",
		} {
			if _, err := tx.ExecContext(ctx, q, userID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete factors: %w", err)
	}
	return nil
}

func (s *Store) CreateMFAChallenge(ctx context.Context, c store.MFAChallenge) error {
	_, err := s.exec(ctx, "INSERT INTO mfa_challenges ("+sqlrow.MFAChallengeCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
		c.Hash[:], c.UserID, c.Delivery, c.ClientID, strings.Join(c.AMR, ","), sqlrow.Micros(c.CreatedAt), sqlrow.Micros(c.ExpiresAt), c.Attempts)
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: create mfa challenge: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create mfa challenge: %w", err)
	}
	return nil
}

func (s *Store) MFAChallengeByHash(ctx context.Context, h token.Hash) (store.MFAChallenge, error) {
	c, err := found(sqlrow.MFAChallenge(s.r.QueryRowContext(ctx, "SELECT "+sqlrow.MFAChallengeCols+" FROM mfa_challenges WHERE token_hash = ?", h[:])))
	if err != nil {
		return store.MFAChallenge{}, fmt.Errorf("sqlite: mfa challenge: %w", err)
	}
	return c, nil
}

func (s *Store) AttemptMFAChallenge(ctx context.Context, h token.Hash, maxAttempts int, now time.Time) (store.MFAChallenge, error) {
	var c store.MFAChallenge
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = found(sqlrow.MFAChallenge(tx.QueryRowContext(ctx, `UPDATE mfa_challenges SET attempts = attempts + 1
			WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?
			RETURNING `+sqlrow.MFAChallengeCols, h[:], sqlrow.Micros(now), maxAttempts)))
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		c, err = found(sqlrow.MFAChallenge(tx.QueryRowContext(ctx, "SELECT "+sqlrow.MFAChallengeCols+" FROM mfa_challenges WHERE token_hash = ?", h[:])))
		if err != nil {
			return err
		}
		return store.ErrStale
	})
	if err != nil {
		return c, fmt.Errorf("sqlite: attempt mfa challenge: %w", err)
	}
	return c, nil
}

func (s *Store) ConsumeMFAChallenge(ctx context.Context, h token.Hash, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE mfa_challenges SET used_at = ? WHERE token_hash = ? AND used_at IS NULL", sqlrow.Micros(at), h[:])
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1 FROM mfa_challenges WHERE token_hash = ?", h[:]).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		} else if err != nil {
			return err
		}
		return store.ErrStale
	})
	if err != nil {
		return fmt.Errorf("sqlite: consume mfa challenge: %w", err)
	}
	return nil
}

func (s *Store) DeleteExpiredMFAChallenges(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.exec(ctx, "DELETE FROM mfa_challenges WHERE expires_at < ?", sqlrow.Micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired mfa challenges: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
