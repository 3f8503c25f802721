package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

// The audit chain. SQLite has one writer: the append's read of the head
// and its writes are one transaction no other append can interleave with,
// in this process (the one writer connection) or another (the database
// lock).

func (s *Store) AppendAudit(ctx context.Context, recs []store.AuditRecord, seal func(store.AuditHead, []store.AuditRecord) ([]store.AuditRecord, store.AuditHead, error)) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		head, err := auditHead(ctx, tx)
		if err != nil {
			return err
		}
		sealed, next, err := seal(head, recs)
		if err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, "INSERT INTO audit_records ("+sqlrow.AuditCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, r := range sealed {
			if _, err := ins.ExecContext(ctx, sqlrow.AuditArgs(r)...); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_head (id, seq, mac, head_mac) VALUES (1, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, head_mac = excluded.head_mac`, next.Seq, next.MAC, next.HeadMAC)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: append audit: %w", err)
	}
	return nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func auditHead(ctx context.Context, q queryRower) (store.AuditHead, error) {
	var h store.AuditHead
	err := q.QueryRowContext(ctx, "SELECT seq, mac, head_mac FROM audit_head WHERE id = 1").Scan(&h.Seq, &h.MAC, &h.HeadMAC)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuditHead{}, nil
	}
	return h, err
}

func (s *Store) AuditHead(ctx context.Context) (store.AuditHead, error) {
	h, err := auditHead(ctx, s.r)
	if err != nil {
		return store.AuditHead{}, fmt.Errorf("sqlite: audit head: %w", err)
	}
	return h, nil
}

func (s *Store) AuditRecords(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	query, args := sqlrow.AuditQuery(q)
	rows, err := s.r.QueryContext(ctx, sqlrow.SQLite(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit records: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.AuditRecord)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit records: %w", err)
	}
	return out, nil
}

func (s *Store) PutAuditCheckpoint(ctx context.Context, c store.AuditCheckpoint) error {
	if _, err := s.exec(ctx, "INSERT INTO audit_checkpoints ("+sqlrow.AuditCheckpointCols+") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
		c.Seq, c.Kind, c.MAC, sqlrow.Micros(c.At), c.Node, c.Sig); err != nil {
		return fmt.Errorf("sqlite: put audit checkpoint: %w", err)
	}
	return nil
}

func (s *Store) AuditCheckpoints(ctx context.Context) ([]store.AuditCheckpoint, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqlrow.AuditCheckpointCols+" FROM audit_checkpoints ORDER BY seq, kind")
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit checkpoints: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.AuditCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit checkpoints: %w", err)
	}
	return out, nil
}

func (s *Store) PruneAudit(ctx context.Context, cut store.AuditCheckpoint) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO audit_checkpoints ("+sqlrow.AuditCheckpointCols+") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			cut.Seq, cut.Kind, cut.MAC, sqlrow.Micros(cut.At), cut.Node, cut.Sig); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "DELETE FROM audit_records WHERE seq <= ?", cut.Seq)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, "DELETE FROM audit_checkpoints WHERE seq < ?", cut.Seq)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune audit: %w", err)
	}
	return int(n), nil
}
