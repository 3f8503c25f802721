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

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqlrow.KeyCols+" FROM signing_keys ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
	}
	return out, nil
}

var (
	insertKeySQL = sqlrow.SQLite(sqlrow.InsertKeySQL)
	keySQL       = sqlrow.SQLite(sqlrow.KeySQL)
	revokeKeySQL = sqlrow.SQLite(sqlrow.RevokeKeySQL)
)

func insertKey(ctx context.Context, tx *sql.Tx, k store.SigningKey) error {
	_, err := tx.ExecContext(ctx, insertKeySQL, sqlrow.InsertKeyArgs(k)...)
	return err
}

func (s *Store) InitSigningKeys(ctx context.Context, active, next store.SigningKey) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM signing_keys").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return store.ErrConflict
		}
		if err := insertKey(ctx, tx, active); err != nil {
			return err
		}
		return insertKey(ctx, tx, next)
	})
	if err != nil {
		return fmt.Errorf("sqlite: init signing keys: %w", err)
	}
	return nil
}

func (s *Store) RotateSigningKeys(ctx context.Context, expectActive string, newNext store.SigningKey, at time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var active string
		err := tx.QueryRowContext(ctx, "SELECT id FROM signing_keys WHERE state = 'active'").Scan(&active)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && active != expectActive) {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		var next string
		if err := tx.QueryRowContext(ctx, "SELECT id FROM signing_keys WHERE state = 'next'").Scan(&next); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("no next key to activate: %w", store.ErrNotFound)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE signing_keys SET state = 'retired', retired_at = ? WHERE id = ?", sqlrow.Micros(at), active); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE signing_keys SET state = 'active', activated_at = ? WHERE id = ?", sqlrow.Micros(at), next); err != nil {
			return err
		}
		return insertKey(ctx, tx, newNext)
	})
	if err != nil {
		return fmt.Errorf("sqlite: rotate signing keys: %w", err)
	}
	return nil
}

func (s *Store) DeleteRetiredKeys(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := s.exec(ctx, "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < ?", sqlrow.Micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete retired keys: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func (s *Store) RevokeSigningKey(ctx context.Context, kid string, newNext store.SigningKey, at, until time.Time, reason string) (store.SigningKey, error) {
	var was store.SigningKey
	err := s.tx(ctx, func(tx *sql.Tx) error {
		k, err := sqlrow.SigningKey(tx.QueryRowContext(ctx, keySQL, kid))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		was = k
		if done, err := sqlrow.CheckKeyRevoke(k, newNext.ID != ""); done || err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, revokeKeySQL, sqlrow.Micros(at), kid); err != nil {
			return err
		}
		if k.State == store.KeyNext {
			if err := insertKey(ctx, tx, newNext); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO revocations (session_id, jti, kid, user_id, at, expires_at, reason) VALUES ('', '', ?, '', ?, ?, ?)",
			kid, sqlrow.Micros(at), sqlrow.Micros(until), reason)
		return err
	})
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("sqlite: revoke signing key: %w", err)
	}
	return was, nil
}
