package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// probeEvery is how long readiness trusts the last committed write before
// it writes a probe (see store/readiness).
const probeEvery = 10 * time.Second

// ErrReadOnly means the server refuses writes: a standby, or
// default_transaction_read_only.
var ErrReadOnly = errors.New("postgres: the database is read-only")

// storageFailure reports an error that says the database cannot commit,
// rather than that one write broke a rule: insufficient resources (disk
// full), a read-only transaction, an I/O or internal error (corruption),
// the server shutting down, or a lost connection.
func storageFailure(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "25006", // read_only_sql_transaction
			strings.HasPrefix(pe.Code, "53"),  // insufficient_resources: disk_full, out_of_memory
			strings.HasPrefix(pe.Code, "58"),  // system_error: io_error
			strings.HasPrefix(pe.Code, "XX"),  // internal_error: data_corrupted, index_corrupted
			strings.HasPrefix(pe.Code, "57P"), // admin_shutdown, crash_shutdown, cannot_connect_now
			strings.HasPrefix(pe.Code, "08"):  // connection_exception
			return true
		}
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// probe writes and commits the probe row.
func (s *Store) probe(ctx context.Context) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO write_probe (id, at) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET at = excluded.at`, time.Now().UnixMicro())
		return err
	})
}

// Check is the start-up check: the server accepts and commits a write.
// (PostgreSQL checks its own pages; a standby, or a database set
// read-only, is refused here with a message that says so.)
func (s *Store) Check(ctx context.Context) error {
	if err := s.probe(ctx); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "25006" {
			return fmt.Errorf("%w: %s: %w (a standby, or default_transaction_read_only is on: point --store at the primary)", ErrReadOnly, s.name, err)
		}
		return fmt.Errorf("postgres: %s cannot commit a write: %w", s.name, err)
	}
	return nil
}
