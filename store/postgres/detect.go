package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

// Detection state (store.DetectState).

// detectLockClass is the first half of the transaction-scoped advisory
// lock DetectObserve takes on its key (the second is the key's hash): the
// two-integer lock space, apart from the migrator's.
const detectLockClass = 1200

// detectTx runs the statements queue adds in one transaction, sent in one
// round trip, and read reads their results. The transaction does not wait
// for its WAL to reach the disk (synchronous_commit off, for it alone): a
// crash of the database may lose the last moments of detection state —
// at worst an alert raised twice or a sighting missed — and no other
// write waits less for it.
func (s *Store) detectTx(ctx context.Context, queue func(*pgx.Batch), read func(pgx.BatchResults) error) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue("SET LOCAL synchronous_commit = off")
		queue(&b)
		br := tx.SendBatch(ctx, &b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		if err := read(br); err != nil {
			return err
		}
		return br.Close()
	})
}

// DetectObserve runs under an advisory lock on the key, so that one
// observation's forget, upsert and trim see no other's half done.
func (s *Store) DetectObserve(ctx context.Context, key, member string, at, since time.Time, max int, expires time.Time) ([]store.DetectSeen, error) {
	var out []store.DetectSeen
	err := s.detectTx(ctx, func(b *pgx.Batch) {
		b.Queue("SELECT pg_advisory_xact_lock($1, hashtext($2))", detectLockClass, key)
		b.Queue(sqlrow.DetectForgetSQL, key, sqlrow.Micros(since))
		b.Queue(`INSERT INTO detect_seen (key, member, first_at, last_at, expires_at) VALUES ($1, $2, $3, $3, $4)
			ON CONFLICT (key, member) DO UPDATE SET first_at = LEAST(detect_seen.first_at, excluded.first_at),
				last_at = GREATEST(detect_seen.last_at, excluded.last_at), expires_at = GREATEST(detect_seen.expires_at, excluded.expires_at)`,
			key, member, sqlrow.Micros(at), sqlrow.Micros(expires))
		b.Queue(sqlrow.DetectTrimSQL, key, max)
		b.Queue(sqlrow.DetectSeenSQL, key)
	}, func(br pgx.BatchResults) error {
		for range 4 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = sqlrow.All(rows, sqlrow.DetectSeen)
		rows.Close()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: detect observe: %w", err)
	}
	return out, nil
}

// DetectCount is one statement: the upsert returns its bucket's new
// count, atomically, and the other buckets are summed beside it.
func (s *Store) DetectCount(ctx context.Context, key string, bucket, from int64, expires time.Time) (int64, error) {
	var n int64
	err := s.detectTx(ctx, func(b *pgx.Batch) {
		b.Queue(`WITH up AS (
				INSERT INTO detect_counts (key, bucket, n, expires_at) VALUES ($1, $2, 1, $4)
				ON CONFLICT (key, bucket) DO UPDATE SET n = detect_counts.n + 1,
					expires_at = GREATEST(detect_counts.expires_at, excluded.expires_at)
				RETURNING n)
			SELECT (SELECT n FROM up) + coalesce((SELECT sum(n) FROM detect_counts
				WHERE key = $1 AND bucket >= $3 AND bucket < $2), 0)::bigint`,
			key, bucket, from, sqlrow.Micros(expires))
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: detect count: %w", err)
	}
	return n, nil
}

// DetectOnce is one conditional upsert, as AcquireLease: a racing insert
// waits for the other's commit, then re-checks the WHERE against it.
func (s *Store) DetectOnce(ctx context.Context, key string, at, until time.Time) (bool, error) {
	var won bool
	err := s.detectTx(ctx, func(b *pgx.Batch) {
		b.Queue(sqlrow.DetectOnceSQL, key, sqlrow.Micros(until), sqlrow.Micros(at))
	}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		won = tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: detect once: %w", err)
	}
	return won, nil
}

func (s *Store) DeleteExpiredDetectState(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for _, q := range sqlrow.DeleteExpiredDetectSQL {
			tag, err := tx.Exec(ctx, q, sqlrow.Micros(cutoff))
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired detect state: %w", err)
	}
	return int(n), nil
}
