package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/readiness"
	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/token"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Options tune how the database is opened. The zero value is what production uses.
type Options struct {
	// NoSync turns off fsync on commit. It exists only to load large test
	// fixtures quickly: with it, an acknowledged revocation can be lost.
	NoSync bool
}

// Store is the SQLite backend. Safe for concurrent use, and for use by
// several processes on one file (the CLI beside a running server).
type Store struct {
	// SQLite allows one writer at a time. A single-connection pool for
	// writes queues writers in Go instead of in busy-wait loops, and the
	// reader pool serves lookups concurrently from the WAL snapshot.
	w, r *sql.DB
	path string

	// Prepared once: parsing SQL costs more than running these lookups.
	sessionByHash, sessionByID, userByID, userByUsername *sql.Stmt

	wal *walSyncer // nil with NoSync
	// feedSynced is the highest revocation seq known to be durable.
	feedSynced atomic.Int64

	// Hot statements inside write transactions, prepared on the single
	// writer connection and bound to each transaction with tx.StmtContext.
	wRefreshByHash, wSessionByID, wRefreshUse, wRefreshInsert, wSessionTouch *sql.Stmt
	wSavepoint, wRollbackTo, wRelease                                        *sql.Stmt

	// health is whether writes commit, for Ping (readiness).
	health *readiness.Tracker

	rotations   chan *rotateOp
	closed      chan struct{}
	batcherDone chan struct{}
	closeOnce   sync.Once
	batching    bool
}

var _ store.Store = (*Store)(nil)

// Open opens the database at path, creating it and applying pending
// migrations first (Migrator), then opens it as OpenExisting does. It is
// for a process that owns its database: tests, fixtures, tools. A server
// opens through store.Open, which never creates or migrates, and migrates
// only when told to (tessera serve, tessera migrate).
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	m, err := NewMigrator(ctx, path)
	if err != nil {
		return nil, err
	}
	_, err = m.Migrate(ctx)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return OpenExisting(ctx, path, opt)
}

// OpenExisting opens the database at path, which must exist (else an error
// wrapping store.ErrNoDatabase) with the schema this binary knows (else
// store.ErrSchemaOutdated or store.ErrSchemaNewer). It creates nothing.
func OpenExisting(ctx context.Context, path string, opt Options) (*Store, error) {
	// SQLite creates a missing file on first use: look first, so that a
	// mistyped path is an error and not a fresh, empty database.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sqlite: %s: %w", path, store.ErrNoDatabase)
	} else if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if err := tighten(path); err != nil {
		return nil, err
	}
	// NORMAL appends commits to the WAL without fsync; walSyncer then makes
	// each acknowledged write durable with group commit (see durable.go).
	sync := "NORMAL"
	if opt.NoSync {
		sync = "OFF"
	}
	dsn := dsn(path, sync)
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s := &Store{w: w, r: r, path: path, health: readiness.New(storageFailure, probeEvery), rotations: make(chan *rotateOp), closed: make(chan struct{}), batcherDone: make(chan struct{})}
	if !opt.NoSync {
		s.wal = newWALSyncer(path)
	}
	st, err := schemaStatus(ctx, r)
	if err == nil {
		err = st.Check()
	}
	if err != nil {
		s.Close()
		if corrupt(err) {
			return nil, fmt.Errorf("%w: %s: %w (restore it from a backup)", ErrCorrupt, path, err)
		}
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.sessionByHash, "SELECT " + sqlrow.SessionCols + " FROM sessions WHERE token_hash = ?"},
		{&s.sessionByID, "SELECT " + sqlrow.SessionCols + " FROM sessions WHERE id = ?"},
		{&s.userByID, sqlrow.SQLite(sqlrow.UserByIDSQL)},
		{&s.userByUsername, sqlrow.SQLite(sqlrow.UserByUsernameSQL)},
	} {
		if *p.dst, err = r.PrepareContext(ctx, p.query); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
	}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.wRefreshByHash, sqlrow.RefreshStateFrom + " WHERE r.token_hash = ?"},
		{&s.wSessionByID, "SELECT " + sqlrow.SessionCols + " FROM sessions WHERE id = ?"},
		{&s.wRefreshUse, "UPDATE refresh_tokens SET used_at = ?, child = ?, rotated_by = ?, grace_used = ? WHERE token_hash = ?"},
		{&s.wRefreshInsert, "INSERT INTO refresh_tokens (" + sqlrow.RefreshCols + ") VALUES (?, ?, ?, ?, ?, ?, NULL)"},
		{&s.wSessionTouch, "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?"},
		{&s.wSavepoint, "SAVEPOINT rotation"},
		{&s.wRollbackTo, "ROLLBACK TO rotation"},
		{&s.wRelease, "RELEASE rotation"},
	} {
		if *p.dst, err = w.PrepareContext(ctx, p.query); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
	}
	s.batching = true
	go s.batchRotations()
	return s, nil
}

// dsn is the connection string for path. Every connection waits up to 10 s
// for a lock, writes a WAL and begins its transactions IMMEDIATE (taking
// the write lock at BEGIN, so two writers never deadlock upgrading).
func dsn(path, synchronous string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes both connection pools.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	if s.batching {
		<-s.batcherDone
	}
	for _, st := range []*sql.Stmt{s.sessionByHash, s.sessionByID, s.userByID, s.userByUsername,
		s.wRefreshByHash, s.wSessionByID, s.wRefreshUse, s.wRefreshInsert, s.wSessionTouch,
		s.wSavepoint, s.wRollbackTo, s.wRelease} {
		if st != nil {
			st.Close()
		}
	}
	var werr error
	if s.wal != nil {
		werr = s.wal.close()
	}
	return errors.Join(s.r.Close(), s.w.Close(), werr)
}

// Ping checks that the database answers a query and can commit: after a
// failed fsync every write is refused, and a write that failed for want of
// space, a read-only or damaged file makes the store not ready until a
// write commits again (store/readiness; an idle store is probed with a
// small write every probeEvery). Not ready, a load balancer sends traffic
// elsewhere.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.failure(); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.health.Ready(ctx, s.probe); err != nil {
		return fmt.Errorf("sqlite: %s: %w", s.path, err)
	}
	return nil
}

// SchemaVersion returns the highest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	st, err := schemaStatus(ctx, s.r)
	return st.Current, err
}

// SchemaStatus reports the applied and the latest known schema versions.
func (s *Store) SchemaStatus(ctx context.Context) (store.SchemaStatus, error) {
	return schemaStatus(ctx, s.r)
}

// tx runs fn in an immediate transaction and returns once the commit is
// durable. Once the store has failed (a failed fsync) it begins nothing,
// and a failure recorded while fn ran rolls the transaction back: a write
// that will not be acknowledged must not become visible.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) (err error) {
	defer func() { s.health.Record(err) }()
	if err := s.failure(); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := s.commit(tx.Commit); err != nil {
		tx.Rollback() // a no-op if the COMMIT itself failed and ended it
		return err
	}
	return s.durable(context.WithoutCancel(ctx))
}

// exec runs one write statement and returns once it is durable. Once the
// store has failed the statement does not run.
func (s *Store) exec(ctx context.Context, query string, args ...any) (_ sql.Result, err error) {
	defer func() { s.health.Record(err) }()
	// Take the one writer connection before the commit gate, as tx does
	// (BEGIN before COMMIT): waiting for the connection while holding the
	// gate could deadlock with a transaction that holds the connection and
	// waits for the gate behind a failure being recorded.
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var res sql.Result
	err = s.commit(func() error {
		var err error
		res, err = conn.ExecContext(ctx, query, args...)
		return err
	})
	conn.Close() // back to the pool
	if err != nil {
		return nil, err
	}
	return res, s.durable(context.WithoutCancel(ctx))
}

// failure is the sticky fsync failure (see walSyncer), wrapped for callers.
func (s *Store) failure() error {
	if s.wal == nil {
		return nil
	}
	if err := s.wal.err(); err != nil {
		return failedErr(err)
	}
	return nil
}

// commit runs c, which commits, unless the store has failed (see
// walSyncer.commit). The caller holds the writer connection already.
func (s *Store) commit(c func() error) error {
	if s.wal == nil {
		return c()
	}
	return s.wal.commit(c)
}

// durable waits for the group-commit fsync. Writers pass a context that
// cannot be cancelled: once committed, a write's only honest outcomes are
// "durable" or "the disk failed"; an error because the caller gave up would
// leave a committed revocation or session that its caller believes failed.
// Readers of the feed pass theirs: they can give up and read again.
func (s *Store) durable(ctx context.Context) error {
	if s.wal == nil {
		return nil
	}
	return s.wal.sync(ctx)
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// Users

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.exec(ctx, `INSERT INTO users (id, username, password_hash, created_at, password_changed_at)
		VALUES (?, ?, ?, ?, ?)`, u.ID, u.Username, u.PasswordHash, sqlrow.Micros(u.CreatedAt), sqlrow.Micros(u.PasswordChangedAt))
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: create user: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	return nil
}

func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.userByID.QueryRowContext(ctx, id))
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: user by id: %w", err)
	}
	return u, nil
}

func (s *Store) UserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.userByUsername.QueryRowContext(ctx, username))
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: user by username: %w", err)
	}
	return u, nil
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqlrow.UserCols+" FROM users ORDER BY username")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.User)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return out, nil
}

func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error {
	res, err := s.exec(ctx, "UPDATE users SET password_hash = ?, password_changed_at = ?, must_change_password = 0 WHERE id = ?", hash, sqlrow.Micros(at), userID)
	if err != nil {
		return fmt.Errorf("sqlite: set password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: set password: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) UpgradePasswordHash(ctx context.Context, userID, oldHash, newHash string) error {
	res, err := s.exec(ctx, "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?", newHash, userID, oldHash)
	if err != nil {
		return fmt.Errorf("sqlite: upgrade password hash: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: upgrade password hash: %w", store.ErrStale)
	}
	return nil
}

// Sessions

// The session statements shared with PostgreSQL (package sqlrow),
// rewritten once for SQLite's placeholders.
var (
	overCapSQL = sqlrow.SQLite(`SELECT id FROM sessions WHERE user_id = $1 AND ` + sqlrow.LiveSession(2) + `
		ORDER BY last_seen_at DESC, created_at DESC, id DESC LIMIT -1 OFFSET $3`)
	userLiveSessionsSQL = sqlrow.SQLite("SELECT " + sqlrow.SessionCols + " FROM sessions WHERE user_id = $1 AND " +
		sqlrow.LiveSession(2) + " ORDER BY created_at DESC, id DESC")
	userOtherSessionsSQL = sqlrow.SQLite("SELECT id FROM sessions WHERE user_id = $1 AND id <> $2 AND " + sqlrow.UnexpiredSession(3))
	countSessionsSQL     = sqlrow.SQLite("SELECT count(*) FROM sessions WHERE " + sqlrow.UnexpiredSession(1))
)

func (s *Store) CreateSession(ctx context.Context, sess store.Session, opt store.CreateOptions) ([]string, error) {
	var evicted []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var changed int64
		var disabled bool
		err := tx.QueryRowContext(ctx, "SELECT password_changed_at, disabled_at IS NOT NULL OR deleted_at IS NOT NULL FROM users WHERE id = ?", sess.UserID).Scan(&changed, &disabled)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		// A disabled account gets no session, even from a login checked
		// before it was disabled.
		if disabled || !opt.PasswordChangedAt.IsZero() && changed != sqlrow.Micros(opt.PasswordChangedAt) {
			return store.ErrStale
		}
		if sess.IdleTimeout <= 0 {
			return errors.New("session without an idle timeout")
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (`+sqlrow.SessionCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '', NULL)`,
			sess.ID, sess.TokenHash[:], sess.UserID, sqlrow.Micros(sess.CreatedAt), sqlrow.Micros(sess.AuthTime), sqlrow.Micros(sess.ExpiresAt),
			sqlrow.Micros(sess.LastSeenAt), sess.IdleTimeout.Microseconds(), sess.IP, sess.UserAgent, strings.Join(sess.AMR, ","), sess.AAL)
		if isUniqueViolation(err) {
			return store.ErrConflict
		}
		if err != nil {
			return err
		}
		if opt.MaxPerUser <= 0 {
			return nil
		}
		evicted, err = queryIDs(ctx, tx, overCapSQL,
			sess.UserID, sqlrow.Micros(sess.CreatedAt), opt.MaxPerUser)
		if err != nil {
			return err
		}
		for _, id := range evicted {
			if err := revokeTx(ctx, tx, id, sess.UserID, sess.CreatedAt, "session_limit"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: create session: %w", err)
	}
	return evicted, nil
}

// queryIDs runs q in tx and reads the one string column of its rows. The
// rows are closed before it returns: the transaction's one connection is
// free for the statements that act on the ids.
func queryIDs(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlrow.All(rows, func(row sqlrow.Scanner) (id string, err error) {
		err = row.Scan(&id)
		return id, err
	})
}

func revokeTx(ctx context.Context, tx *sql.Tx, id, userID string, at time.Time, reason string) error {
	if _, err := tx.ExecContext(ctx, "UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL", sqlrow.Micros(at), reason, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO revocations (session_id, user_id, at, reason) VALUES (?, ?, ?, ?)", id, userID, sqlrow.Micros(at), reason)
	return err
}

func (s *Store) SessionByHash(ctx context.Context, h token.Hash) (store.Session, error) {
	sess, err := scanSession(s.sessionByHash.QueryRowContext(ctx, h[:]))
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: session by hash: %w", err)
	}
	return sess, nil
}

func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	sess, err := scanSession(s.sessionByID.QueryRowContext(ctx, id))
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: session by id: %w", err)
	}
	return sess, nil
}

func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	rows, err := s.r.QueryContext(ctx, userLiveSessionsSQL, userID, sqlrow.Micros(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.Session)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sessions: %w", err)
	}
	return out, nil
}

func (s *Store) TouchSessions(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?")
		if err != nil {
			return err
		}
		defer st.Close()
		for id, at := range seen {
			if _, err := st.ExecContext(ctx, sqlrow.Micros(at), id, sqlrow.Micros(at)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: touch sessions: %w", err)
	}
	return nil
}

func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, error) {
	var out store.Session
	err := s.tx(ctx, func(tx *sql.Tx) error {
		sess, err := scanSession(tx.QueryRowContext(ctx, "SELECT "+sqlrow.SessionCols+" FROM sessions WHERE id = ?", id))
		if err != nil {
			return err
		}
		if !sess.Revoked() {
			if err := revokeTx(ctx, tx, id, sess.UserID, at, reason); err != nil {
				return err
			}
			sess.RevokedAt, sess.RevokeReason = at.UTC().Truncate(time.Microsecond), reason
		}
		out = sess
		return nil
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: revoke session: %w", err)
	}
	return out, nil
}

func (s *Store) MarkStepUp(ctx context.Context, id string, at time.Time, reason string) (store.Session, error) {
	var out store.Session
	err := s.tx(ctx, func(tx *sql.Tx) error {
		sess, err := scanSession(tx.QueryRowContext(ctx, "SELECT "+sqlrow.SessionCols+" FROM sessions WHERE id = ?", id))
		if err != nil {
			return err
		}
		if sess.Revoked() {
			return store.ErrStale
		}
		if !sess.StepUpRequired() {
			at = at.UTC().Truncate(time.Microsecond)
			if _, err := tx.ExecContext(ctx, "UPDATE sessions SET step_up_at = ? WHERE id = ?", sqlrow.Micros(at), id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO revocations (session_id, user_id, at, reason, evict_only) VALUES (?, ?, ?, ?, 1)",
				id, sess.UserID, sqlrow.Micros(at), reason); err != nil {
				return err
			}
			sess.StepUpAt = at
		}
		out = sess
		return nil
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("sqlite: mark step-up: %w", err)
	}
	return out, nil
}

func (s *Store) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if ids, err = queryIDs(ctx, tx, userOtherSessionsSQL, userID, except, sqlrow.Micros(at)); err != nil {
			return err
		}
		for _, id := range ids {
			if err := revokeTx(ctx, tx, id, userID, at, reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoke user sessions: %w", err)
	}
	return ids, nil
}

func (s *Store) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqlrow.RevocationCols+" FROM revocations WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: revocations: %w", err)
	}
	out, err := scanRevocations(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: revocations: %w", err)
	}
	if len(out) > 0 {
		if err := s.feedDurable(ctx, out[len(out)-1].Seq); err != nil {
			return nil, fmt.Errorf("sqlite: revocations: %w", err)
		}
	}
	return out, nil
}

func (s *Store) ActiveRevocations(ctx context.Context, sessionsSince, now time.Time) ([]store.Revocation, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+sqlrow.RevocationCols+` FROM revocations
		WHERE (jti = '' AND kid = '' AND at >= ?) OR ((jti <> '' OR kid <> '') AND expires_at > ?) ORDER BY seq`, sqlrow.Micros(sessionsSince), sqlrow.Micros(now))
	if err != nil {
		return nil, fmt.Errorf("sqlite: active revocations: %w", err)
	}
	out, err := scanRevocations(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: active revocations: %w", err)
	}
	// A snapshot's highest seq becomes a follower's cursor (see feedDurable).
	if len(out) > 0 {
		if err := s.feedDurable(ctx, out[len(out)-1].Seq); err != nil {
			return nil, fmt.Errorf("sqlite: active revocations: %w", err)
		}
	}
	return out, nil
}

func (s *Store) DenyAccessToken(ctx context.Context, jti, userID string, expires, at time.Time, reason string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO denied_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING", jti, sqlrow.Micros(expires))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // already denied
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO revocations (session_id, jti, user_id, at, expires_at, reason) VALUES ('', ?, ?, ?, ?, ?)",
			jti, userID, sqlrow.Micros(at), sqlrow.Micros(expires), reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: deny access token: %w", err)
	}
	return nil
}

func (s *Store) LastRevocationSeq(ctx context.Context) (int64, error) {
	// AUTOINCREMENT's high-water mark, not max(seq): deleting expired
	// entries must not move it back, or a follower's cursor would look
	// ahead of the feed.
	var v int64
	err := s.r.QueryRowContext(ctx, "SELECT seq FROM sqlite_sequence WHERE name = 'revocations'").Scan(&v)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlite: last revocation: %w", err)
	}
	// A follower starts after this seq; it must not be reusable (see Revocations).
	if err := s.feedDurable(ctx, v); err != nil {
		return 0, fmt.Errorf("sqlite: last revocation: %w", err)
	}
	return v, nil
}

// feedDurable returns once every feed entry up to seq is on stable storage.
// A commit is visible before it is durable; entries a follower acts on must
// survive a crash, or their seqs could be reused by other revocations after
// a power loss and a follower whose cursor is past them would never see
// those. Only the first read of new entries waits for an fsync.
func (s *Store) feedDurable(ctx context.Context, seq int64) error {
	if seq <= s.feedSynced.Load() {
		return nil
	}
	if err := s.durable(ctx); err != nil {
		return err
	}
	for {
		cur := s.feedSynced.Load()
		if seq <= cur || s.feedSynced.CompareAndSwap(cur, seq) {
			return nil
		}
	}
}

func (s *Store) CountLiveSessions(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, countSessionsSQL, sqlrow.Micros(now)).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count sessions: %w", err)
	}
	return n, nil
}

func (s *Store) DeleteExpired(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE expires_at < ?", sqlrow.Micros(cutoff))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, "DELETE FROM refresh_tokens WHERE expires_at < ?", sqlrow.Micros(cutoff)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM access_tokens WHERE expires_at < ?", sqlrow.Micros(cutoff)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM denied_tokens WHERE expires_at < ?", sqlrow.Micros(cutoff)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM revocations WHERE at < ? AND expires_at < ?", sqlrow.Micros(cutoff), sqlrow.Micros(cutoff))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete expired: %w", err)
	}
	return int(n), nil
}

// found maps the driver's no-rows error to store.ErrNotFound.
func found[T any](v T, err error) (T, error) {
	if errors.Is(err, sql.ErrNoRows) {
		var zero T
		return zero, store.ErrNotFound
	}
	return v, err
}

func scanUser(row sqlrow.Scanner) (store.User, error) { return found(sqlrow.User(row)) }

func scanSession(row sqlrow.Scanner) (store.Session, error) { return found(sqlrow.Session(row)) }

func scanRevocations(rows *sql.Rows) ([]store.Revocation, error) {
	defer rows.Close()
	return sqlrow.All(rows, sqlrow.Revocation)
}
