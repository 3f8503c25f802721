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

func (s *Store) DetectObserve(ctx context.Context, key, member string, at, since time.Time, max int, expires time.Time) ([]store.DetectSeen, error) {
	var out []store.DetectSeen
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM detect_seen WHERE key = ? AND last_at < ?", key, sqlrow.Micros(since)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO detect_seen (key, member, first_at, last_at, expires_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (key, member) DO UPDATE SET first_at = min(first_at, excluded.first_at),
				last_at = max(last_at, excluded.last_at), expires_at = max(expires_at, excluded.expires_at)`,
			key, member, sqlrow.Micros(at), sqlrow.Micros(at), sqlrow.Micros(expires)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM detect_seen WHERE key = ? AND member NOT IN
			(SELECT member FROM detect_seen WHERE key = ? ORDER BY last_at DESC, member LIMIT ?)`, key, key, max); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "SELECT "+sqlrow.DetectSeenCols+" FROM detect_seen WHERE key = ? ORDER BY last_at DESC, member", key)
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
	res, err := s.exec(ctx, `INSERT INTO detect_claims (key, until_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET until_at = excluded.until_at WHERE detect_claims.until_at <= ?`,
		key, sqlrow.Micros(until), sqlrow.Micros(at))
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
		for _, q := range []string{
			"DELETE FROM detect_seen WHERE expires_at < ?",
			"DELETE FROM detect_counts WHERE expires_at < ?",
			"DELETE FROM detect_claims WHERE until_at < ?",
		} {
			res, err := tx.ExecContext(ctx, q, sqlrow.Micros(cutoff))
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
