package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/store"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// probeEvery is how long readiness trusts the last committed write before
// it writes a probe: an idle node learns of a read-only or full disk only
// by writing.
const probeEvery = 10 * time.Second

// quickCheckWait bounds the start-up integrity check; a database too large
// to check in that time starts with a warning instead (see Check).
var quickCheckWait = 30 * time.Second

// ErrCorrupt means the start-up integrity check found damage.
var ErrCorrupt = errors.New("sqlite: the database is damaged")

// ErrReadOnly means the database cannot be written.
var ErrReadOnly = errors.New("sqlite: the database is read-only")

// storageFailure reports an error that says the database cannot commit
// (rather than that one write broke a rule): full, read-only, I/O,
// corruption, or the sticky failed fsync.
func storageFailure(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CORRUPT,
			sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
			return true
		}
	}
	return errors.Is(err, ErrNotDurable)
}

// corrupt reports an error that says the file is damaged or no database.
func corrupt(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_CORRUPT || c == sqlite3.SQLITE_NOTADB
	}
	return false
}

// probe writes and commits the probe row, durably, through the same path
// as every write. It fills pad first and clears it in the same
// transaction, so it needs free pages, as an insert does.
func (s *Store) probe(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO write_probe (id, at, pad) VALUES (1, ?, zeroblob(65536))
			ON CONFLICT (id) DO UPDATE SET at = excluded.at, pad = excluded.pad`, time.Now().UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE write_probe SET pad = NULL WHERE id = 1")
		return err
	})
}

// Check is the start-up check: the database is whole (PRAGMA quick_check,
// bounded by quickCheckWait) and can commit (a probe write). An integrity
// check that does not finish in time is no verdict: if the probe commits,
// Check returns an error wrapping store.ErrCheckIncomplete.
func (s *Store) Check(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(ctx, quickCheckWait)
	defer cancel()
	rows, err := s.r.QueryContext(qctx, "PRAGMA quick_check(10)")
	var problems []string
	if err == nil {
		for rows.Next() {
			var line string
			if err = rows.Scan(&line); err != nil {
				break
			}
			if line != "ok" {
				problems = append(problems, line)
			}
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	var incomplete error
	switch {
	case err != nil && qctx.Err() != nil && ctx.Err() == nil:
		incomplete = fmt.Errorf("sqlite: %s: %w: the integrity check did not finish in %v", s.path, store.ErrCheckIncomplete, quickCheckWait)
	case err != nil && corrupt(err):
		return fmt.Errorf("%w: %s: %w (restore it from a backup)", ErrCorrupt, s.path, err)
	case err != nil:
		return fmt.Errorf("sqlite: integrity check of %s: %w", s.path, err)
	case len(problems) > 0:
		return fmt.Errorf("%w: %s: %s (restore it from a backup)", ErrCorrupt, s.path, strings.Join(problems, "; "))
	}
	if err := s.probe(ctx); err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY {
			return fmt.Errorf("%w: %s: %w (check the owner and mode of the file and its folder, and that the file system is mounted read-write)", ErrReadOnly, s.path, err)
		}
		return fmt.Errorf("sqlite: %s cannot commit a write: %w", s.path, err)
	}
	return incomplete
}
