package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

// Detection state (store.DetectState). SQLite has one writer: each method
// is one transaction no other write interleaves with.

var (
	detectForgetSQL = sqlrow.SQLite(sqlrow.DetectForgetSQL)
	detectTrimSQL   = sqlrow.SQLite(sqlrow.DetectTrimSQL)
	detectSeenSQL   = sqlrow.SQLite(sqlrow.DetectSeenSQL)
	detectOnceSQL   = sqlrow.SQLite(sqlrow.DetectOnceSQL)
)

func (s *Store) DetectObserve(ctx context.Context, key, member string, at, since time.Time, max int, expires time.Time) ([]store.DetectSeen, error) {
	var out []store.DetectSeen
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, detectForgetSQL, key, sqlrow.Micros(since)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_seen (key, member, first_at, last_at, expires_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key, member) DO UPDATE SET first_at = min(first_at, excluded.first_at),
				last_at = max(last_at, excluded.last_at), expires_at = max(expires_at, excluded.expires_at)`,
			key, member, sqlrow.Micros(at), sqlrow.Micros(at), sqlrow.Micros(expires)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, detectTrimSQL, key, max); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, detectSeenSQL, key)
		if err != nil {
			return err
		}
		defer rows.Close()
		out, err = sqlrow.All(rows, sqlrow.DetectSeen)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: detect observe: %w", err)
	}
	return out, nil
}

func (s *Store) DetectCount(ctx context.Context, key string, bucket, from int64, expires time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_counts (key, bucket, n, expires_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (key, bucket) DO UPDATE SET n = n + 1, expires_at = max(expires_at, excluded.expires_at)`,
			key, bucket, sqlrow.Micros(expires)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT coalesce(sum(n), 0) FROM detect_counts WHERE key = ? AND bucket BETWEEN ? AND ?", key, from, bucket).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: detect count: %w", err)
	}
	return n, nil
}

// DetectOnce is one conditional upsert, as AcquireLease.
func (s *Store) DetectOnce(ctx context.Context, key string, at, until time.Time) (bool, error) {
	res, err := s.exec(ctx, detectOnceSQL, key, sqlrow.Micros(until), sqlrow.Micros(at))
	if err != nil {
		return false, fmt.Errorf("sqlite: detect once: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: detect once: %w", err)
	}
	return n == 1, nil
}

func (s *Store) DeleteExpiredDetectState(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range sqlrow.DeleteExpiredDetectSQL {
			res, err := tx.ExecContext(ctx, sqlrow.SQLite(q), sqlrow.Micros(cutoff))
			if err != nil {
				return err
			}
			d, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += d
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired detect state: %w", err)
	}
	return int(n), nil
}
