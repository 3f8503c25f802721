package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the driver store/sqlite uses

	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/token"
)

// bulkSession is one generated session row (sqlrow.SessionCols order).
type bulkSession struct {
	raw string
	row []any
}

// newBulkSession makes a live session for user, as session.Create would
// store it (an hour idle, a day absolute), without going through it.
func newBulkSession(user string, now time.Time) (bulkSession, error) {
	tok, err := token.New(token.Session)
	if err != nil {
		return bulkSession{}, err
	}
	var id [16]byte
	rand.Read(id[:])
	h := tok.Hash()
	n := sqlrow.Micros(now)
	return bulkSession{raw: tok.Reveal(), row: []any{
		hex.EncodeToString(id[:]), h[:], user, n, n, n + int64(24*time.Hour/time.Microsecond), n,
		int64(time.Hour / time.Microsecond), "127.0.0.1", "bench", "pwd", int64(1), nil, "", nil,
	}}, nil
}

// bulkLoad writes n sessions spread over users straight into the store at
// url (postgres://… with COPY, or a SQLite file path in one transaction of
// prepared inserts), returning their raw tokens. For the scale benchmark
// only: it bypasses the session engine to load millions of rows quickly.
func bulkLoad(ctx context.Context, url string, sqlitePath string, users []string, n int) ([]string, error) {
	now := time.Now()
	raws := make([]string, 0, n)
	next := func(i int) ([]any, error) {
		s, err := newBulkSession(fmt.Sprintf("user-%07d", i%len(users)), now)
		if err != nil {
			return nil, err
		}
		raws = append(raws, s.raw)
		return s.row, nil
	}
	cols := []string{"id", "token_hash", "user_id", "created_at", "auth_time", "expires_at", "last_seen_at", "idle_us", "ip", "user_agent", "amr", "aal", "revoked_at", "revoke_reason"}
	if sqlitePath == "" {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return nil, err
		}
		defer conn.Close(ctx)
		i := 0
		var rowErr error
		_, err = conn.CopyFrom(ctx, pgx.Identifier{"sessions"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			row, err := next(i)
			i++
			rowErr = err
			return row, err
		}))
		if err == nil {
			err = rowErr
		}
		if err == nil {
			_, err = conn.Exec(ctx, "ANALYZE sessions")
		}
		return raws, err
	}
	db, err := sql.Open("sqlite", "file:"+sqlitePath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO sessions ("+sqlrow.SessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return nil, err
	}
	for i := range n {
		row, err := next(i)
		if err != nil {
			return nil, err
		}
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return raws, err
}
