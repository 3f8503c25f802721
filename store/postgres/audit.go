package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlrow"
)

// The audit chain: one chain for every node sharing the database. An
// append locks the head row (SELECT … FOR UPDATE), so appends from any
// number of nodes are serialised by the database and each sees the
// previous one's head; a batch takes the lock once.

func (s *Store) AppendAudit(ctx context.Context, recs []store.AuditRecord, seal func(store.AuditHead, []store.AuditRecord) ([]store.AuditRecord, store.AuditHead, error)) error {
	cols := strings.Split(strings.ReplaceAll(sqlrow.AuditCols, " ", ""), ",")
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var head store.AuditHead
		if err := tx.QueryRow(ctx, "SELECT seq, mac, head_mac FROM audit_head WHERE id = 1 FOR UPDATE").Scan(&head.Seq, &head.MAC, &head.HeadMAC); err != nil {
			return err
		}
		sealed, next, err := seal(head, recs)
		if err != nil {
			return err
		}
		rows := make([][]any, len(sealed))
		for i, r := range sealed {
			rows[i] = sqlrow.AuditArgs(r)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_records"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE audit_head SET seq = $1, mac = $2, head_mac = $3 WHERE id = 1", next.Seq, next.MAC, next.HeadMAC)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: append audit: %w", err)
	}
	return nil
}

func (s *Store) AuditHead(ctx context.Context) (store.AuditHead, error) {
	var h store.AuditHead
	err := s.pool.QueryRow(ctx, "SELECT seq, mac, head_mac FROM audit_head WHERE id = 1").Scan(&h.Seq, &h.MAC, &h.HeadMAC)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.AuditHead{}, nil
	}
	if err != nil {
		return store.AuditHead{}, fmt.Errorf("postgres: audit head: %w", err)
	}
	return h, nil
}

func (s *Store) AuditRecords(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	query, args := sqlrow.AuditQuery(q)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit records: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.AuditRecord)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit records: %w", err)
	}
	return out, nil
}

const putCheckpoint = "INSERT INTO audit_checkpoints (" + sqlrow.AuditCheckpointCols + ") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"

func (s *Store) PutAuditCheckpoint(ctx context.Context, c store.AuditCheckpoint) error {
	if _, err := s.execOne(ctx, putCheckpoint, c.Seq, c.Kind, c.MAC, sqlrow.Micros(c.At), c.Node, c.Sig); err != nil {
		return fmt.Errorf("postgres: put audit checkpoint: %w", err)
	}
	return nil
}

func (s *Store) AuditCheckpoints(ctx context.Context) ([]store.AuditCheckpoint, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.AuditCheckpointCols+" FROM audit_checkpoints ORDER BY seq, kind")
	if err != nil {
		return nil, fmt.Errorf("postgres: audit checkpoints: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.AuditCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit checkpoints: %w", err)
	}
	return out, nil
}

func (s *Store) PruneAudit(ctx context.Context, cut store.AuditCheckpoint) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// Under the head lock: the cut and an append never interleave.
		if _, err := tx.Exec(ctx, "SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, putCheckpoint, cut.Seq, cut.Kind, cut.MAC, sqlrow.Micros(cut.At), cut.Node, cut.Sig); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "DELETE FROM audit_records WHERE seq <= $1", cut.Seq)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, "DELETE FROM audit_checkpoints WHERE seq < $1", cut.Seq)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: prune audit: %w", err)
	}
	return int(n), nil
}
