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

func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.KeyCols+" FROM signing_keys ORDER BY created_at, id COLLATE \"C\"")
	if err != nil {
		return nil, fmt.Errorf("postgres: list signing keys: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("postgres: list signing keys: %w", err)
	}
	return out, nil
}

func insertKey(ctx context.Context, tx pgx.Tx, k store.SigningKey) error {
	_, err := tx.Exec(ctx, sqlrow.InsertKeySQL, sqlrow.InsertKeyArgs(k)...)
	return err
}

// lockKeys serializes the keyset's writers across nodes; readers (JWKS,
// signing) are not blocked. Under it, what a writer reads stays true until
// it commits: one rotation per active key for the whole cluster.
func lockKeys(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "LOCK TABLE signing_keys IN EXCLUSIVE MODE")
	return err
}

func (s *Store) InitSigningKeys(ctx context.Context, active, next store.SigningKey) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockKeys(ctx, tx); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM signing_keys").Scan(&n); err != nil {
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
		return fmt.Errorf("postgres: init signing keys: %w", err)
	}
	return nil
}

func (s *Store) RotateSigningKeys(ctx context.Context, expectActive string, newNext store.SigningKey, at time.Time) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockKeys(ctx, tx); err != nil {
			return err
		}
		var active string
		err := tx.QueryRow(ctx, "SELECT id FROM signing_keys WHERE state = 'active'").Scan(&active)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && active != expectActive) {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		var next string
		if err := tx.QueryRow(ctx, "SELECT id FROM signing_keys WHERE state = 'next'").Scan(&next); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("no next key to activate: %w", store.ErrNotFound)
			}
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE id = $2", sqlrow.Micros(at), active); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE signing_keys SET state = 'active', activated_at = $1 WHERE id = $2", sqlrow.Micros(at), next); err != nil {
			return err
		}
		return insertKey(ctx, tx, newNext)
	})
	if err != nil {
		return fmt.Errorf("postgres: rotate signing keys: %w", err)
	}
	return nil
}

func (s *Store) DeleteRetiredKeys(ctx context.Context, cutoff time.Time) (int, error) {
	n, err := s.execOne(ctx, "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1", sqlrow.Micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("postgres: delete retired keys: %w", err)
	}
	return int(n), nil
}

func (s *Store) RevokeSigningKey(ctx context.Context, kid string, newNext store.SigningKey, at, until time.Time, reason string) (store.SigningKey, error) {
	var was store.SigningKey
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := lockKeys(ctx, tx); err != nil {
			return err
		}
		k, err := sqlrow.SigningKey(tx.QueryRow(ctx, sqlrow.KeySQL, kid))
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		was = k
		if done, err := sqlrow.CheckKeyRevoke(k, newNext.ID != ""); done || err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlrow.RevokeKeySQL, sqlrow.Micros(at), kid); err != nil {
			return err
		}
		if k.State == store.KeyNext {
			if err := insertKey(ctx, tx, newNext); err != nil {
				return err
			}
		}
		return s.appendFeed(ctx, tx, []feedEntry{{kid: kid, at: at, expires: until, reason: reason}})
	})
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("postgres: revoke signing key: %w", err)
	}
	return was, nil
}
