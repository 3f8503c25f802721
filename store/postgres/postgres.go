package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/readiness"
	"github.com/tessera-auth/tessera/store/sqlrow"
	"github.com/tessera-auth/tessera/token"
)

// ErrAsyncCommit means the server acknowledges commits before they are
// durable (synchronous_commit = off): an acknowledged revocation could be
// lost in a crash, so the store refuses to open.
var ErrAsyncCommit = errors.New("postgres: synchronous_commit is off: acknowledged writes could be lost; set it to on")

// Defaults for the URL parameters an operator may set (docs/operations.md).
var defaults = map[string]string{
	"pool_max_conns":    "16",  // pgxpool: connections per process
	"connect_timeout":   "5",   // seconds, as in libpq
	"statement_timeout": "10s", // a server setting, sent at connect
}

// parseConfig reads a postgres:// URL. Parameters pgx and pgxpool know
// (pool_max_conns, pool_min_conns, pool_max_conn_lifetime,
// pool_max_conn_idle_time, pool_health_check_period, connect_timeout,
// sslmode, …) are theirs; any other is a server setting sent at connect
// (statement_timeout, lock_timeout, search_path, …). The pool, connect and
// statement limits get the defaults above. It also returns the URL without
// its password, for messages.
func parseConfig(rawURL string) (*pgxpool.Config, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// A *url.Error quotes the whole URL, and even its inner reason may
		// quote a part of it ("invalid port \":secret\""): say no more.
		return nil, "", errors.New("postgres: the store URL does not parse as a URL")
	}
	// postgres:host… (no //) would be written back as a libpq key=value
	// string and misread; it is not a URL this backend takes.
	if u.Opaque != "" {
		return nil, "", fmt.Errorf("postgres: store URL: want postgres://[user@]host[:port]/database")
	}
	if u.Host == "" && u.Path == "" {
		u.Path = "/" // keep the // when the URL is written back
	}
	name := store.Redact(rawURL)
	q := u.Query()
	for k, v := range defaults {
		if !q.Has(k) {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("postgres: store URL %s: %w", name, err)
	}
	// Parameters travel only in the extended protocol, never interpolated
	// into SQL text by the client.
	if cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol {
		return nil, "", fmt.Errorf("postgres: store URL %s: default_query_exec_mode=simple_protocol is not supported", name)
	}
	cfg.AfterConnect = checkDurable
	return cfg, name, nil
}

// checkDurable refuses a connection whose commits are acknowledged before
// they reach the WAL on disk. Every backend method that returns nil after a
// revocation promises it survives a crash; with synchronous_commit = off
// PostgreSQL would not keep that promise. (local, remote_write, on and
// remote_apply all flush the local WAL before acknowledging.)
func checkDurable(ctx context.Context, c *pgx.Conn) error {
	var v string
	if err := c.QueryRow(ctx, "SELECT current_setting('synchronous_commit')").Scan(&v); err != nil {
		return fmt.Errorf("postgres: synchronous_commit: %w", err)
	}
	if strings.EqualFold(v, "off") {
		return ErrAsyncCommit
	}
	return nil
}

// connectError marks a missing database as store.ErrNoDatabase.
func connectError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "3D000" { // invalid_catalog_name
		return fmt.Errorf("%w: %w", store.ErrNoDatabase, err)
	}
	return err
}

// Store is the PostgreSQL backend. Safe for concurrent use, by any number
// of processes on one database.
type Store struct {
	pool *pgxpool.Pool
	name string
	// health is whether writes commit, for Ping (readiness).
	health *readiness.Tracker
	// url is the store URL, for the listener's connection (ListenFeed).
	url string
	// channel is the NOTIFY channel of this schema's revocation feed.
	channel string
}

var _ store.Store = (*Store)(nil)

// Open connects to the database rawURL names, which must hold the schema
// this binary knows (else an error wrapping store.ErrSchemaOutdated or
// store.ErrSchemaNewer; a missing database is store.ErrNoDatabase). It
// creates and migrates nothing (see NewMigrator), and refuses a server
// with synchronous_commit = off (ErrAsyncCommit).
func Open(ctx context.Context, rawURL string) (*Store, error) {
	cfg, name, err := parseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", name, err)
	}
	s := &Store{pool: pool, name: name, url: rawURL, health: readiness.New(storageFailure, probeEvery)}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", name, connectError(err))
	}
	st, err := schemaStatus(ctx, pool)
	if err == nil {
		err = st.Check()
	}
	if err == nil {
		s.channel, err = feedChannel(ctx, pool)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", name, err)
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers a query, that commits are still
// durable (a reload of the server's configuration reaches open
// connections, so synchronous_commit can be turned off after they were
// checked), and that writes commit: a write that failed for a storage
// reason (disk full, read-only, I/O, lost connection) makes the store not
// ready until a write commits again (store/readiness; an idle store is
// probed with a small write every probeEvery). /readyz then reports the
// node not ready.
func (s *Store) Ping(ctx context.Context) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	err = checkDurable(ctx, c.Conn())
	c.Release()
	if err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	if err := s.health.Ready(ctx, s.probe); err != nil {
		return fmt.Errorf("postgres: %s: %w", s.name, err)
	}
	return nil
}

// SchemaStatus reports the applied and the latest known schema versions.
func (s *Store) SchemaStatus(ctx context.Context) (store.SchemaStatus, error) {
	return schemaStatus(ctx, s.pool)
}

// maxAttempts bounds how often tx runs a transaction that PostgreSQL
// aborted to break a deadlock or a serialization conflict.
const maxAttempts = 10

// commitWait bounds the wait for a COMMIT's answer once sent.
const commitWait = time.Minute

// tx runs fn in a transaction (READ COMMITTED, PostgreSQL's default; the
// methods take the row locks they need) and commits. A transaction aborted
// by a deadlock or a serialization failure did nothing, so it runs again,
// fn included: fn must be safe to repeat. A commit returns once the
// commit record is flushed (synchronous_commit, see checkDurable).
// dbtx is what the statements of a transaction need: a pgx.Tx, or a
// connection on which this package sent BEGIN itself (the pipelined
// refresh rotation, rotate.go).
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) (err error) {
	defer func() { s.health.Record(err) }()
	for attempt := 1; ; attempt++ {
		err := s.txOnce(ctx, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

func (s *Store) txOnce(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	// Once COMMIT is sent, wait for its answer even if the caller gives
	// up: a write's honest outcomes are "committed" or "failed", never "the
	// caller stopped listening" (which would leave a committed revocation
	// its caller believes failed).
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitWait)
	defer cancel()
	if err := tx.Commit(cctx); err != nil {
		if commitUnknown(err) {
			// COMMIT was sent (or may have been) and no clean answer came
			// back: it may have committed or not. The write is not
			// acknowledged: the caller answers "unavailable", never "done"
			// nor "refused", and a retry meets whichever happened.
			return fmt.Errorf("postgres: commit outcome unknown: %w", err)
		}
		return err // refused: rolled back, nothing happened
	}
	return nil
}

// commitUnknown reports a failed COMMIT whose outcome the client cannot
// know: no answer (the connection broke, the wait ran out), or the session
// ended by a FATAL error (terminated, server shutting down) instead of an
// ERROR, which would mean the transaction was rolled back.
func commitUnknown(err error) bool {
	if errors.Is(err, pgx.ErrTxCommitRollback) {
		return false
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true
	}
	return pe.Severity == "FATAL" || pe.Severity == "PANIC" ||
		strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
}

// retryable reports a transaction PostgreSQL aborted so that another could
// proceed: running it again is the documented response.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") // serialization_failure, deadlock_detected
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Users

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO users (id, username, password_hash, created_at, password_changed_at)
			VALUES ($1, $2, $3, $4, $5)`, u.ID, u.Username, u.PasswordHash, sqlrow.Micros(u.CreatedAt), sqlrow.Micros(u.PasswordChangedAt))
		return err
	})
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: create user: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: create user: %w", err)
	}
	return nil
}

func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, sqlrow.UserByIDSQL, id))
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: user by id: %w", err)
	}
	return u, nil
}

func (s *Store) UserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, sqlrow.UserByUsernameSQL, username))
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: user by username: %w", err)
	}
	return u, nil
}

func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.UserCols+" FROM users ORDER BY username COLLATE \"C\"")
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.User)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return out, nil
}

// execOne runs one write statement in a transaction and returns how many
// rows it changed.
func (s *Store) execOne(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, query, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

func (s *Store) SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error {
	n, err := s.execOne(ctx, "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = false WHERE id = $3", hash, sqlrow.Micros(at), userID)
	if err != nil {
		return fmt.Errorf("postgres: set password: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: set password: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) UpgradePasswordHash(ctx context.Context, userID, oldHash, newHash string) error {
	// Under READ COMMITTED an UPDATE that waited for a concurrent one
	// re-checks its WHERE against the committed row: a password change
	// committed meanwhile makes this one match nothing.
	n, err := s.execOne(ctx, "UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3", newHash, userID, oldHash)
	if err != nil {
		return fmt.Errorf("postgres: upgrade password hash: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("postgres: upgrade password hash: %w", store.ErrStale)
	}
	return nil
}

// Sessions

func (s *Store) CreateSession(ctx context.Context, sess store.Session, opt store.CreateOptions) ([]string, error) {
	if sess.IdleTimeout <= 0 {
		return nil, errors.New("postgres: create session: session without an idle timeout")
	}
	var evicted []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		evicted = nil
		// The user's row lock serializes the user's logins (so a cap holds
		// under concurrent logins) and orders them with password changes,
		// which update the row: the check below reads the committed value.
		var changed int64
		var disabled bool
		err := tx.QueryRow(ctx, "SELECT password_changed_at, disabled_at IS NOT NULL OR deleted_at IS NOT NULL FROM users WHERE id = $1 FOR NO KEY UPDATE", sess.UserID).Scan(&changed, &disabled)
		if errors.Is(err, pgx.ErrNoRows) {
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
		_, err = tx.Exec(ctx, `INSERT INTO sessions (`+sqlrow.SessionCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, '', NULL)`,
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
		rows, err := tx.Query(ctx, `SELECT id FROM sessions
			WHERE user_id = $1 AND `+sqlrow.LiveSession(2)+`
			ORDER BY last_seen_at DESC, created_at DESC, id COLLATE "C" DESC OFFSET $3`,
			sess.UserID, sqlrow.Micros(sess.CreatedAt), opt.MaxPerUser)
		if err != nil {
			return err
		}
		over, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		evicted, err = s.revokeTx(ctx, tx, over, sess.CreatedAt, "session_limit")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: create session: %w", err)
	}
	return evicted, nil
}

// feedEntry is a revocation to append to the feed.
type feedEntry struct {
	sessionID, jti, kid, userID string
	at, expires                 time.Time
	reason                      string
	evictOnly                   bool
}

// appendFeed appends entries to the revocation feed. It numbers them from
// revocation_seq with an UPDATE whose row lock tx holds until it commits:
// a transaction numbering after this one waits for its commit, so numbers
// follow commit order and no follower can see a seq before a lower one
// commits (the feed ordering contract on store.Revocation). Call it after
// the transaction's other row locks, so the counter is held briefly and
// never while waiting for another lock.
//
// It also NOTIFYs the feed's channel (see ListenFeed). PostgreSQL delivers
// a notification when, and only if, its transaction commits, so listeners
// hear of the entries exactly once they are readable, and never of a
// rolled-back one.
func (s *Store) appendFeed(ctx context.Context, tx dbtx, entries []feedEntry) error {
	if len(entries) == 0 {
		return nil
	}
	var last int64
	if err := tx.QueryRow(ctx, "UPDATE revocation_seq SET last = last + $1 RETURNING last", int64(len(entries))).Scan(&last); err != nil {
		return err
	}
	seq := last - int64(len(entries))
	for _, e := range entries {
		seq++
		var exp int64
		if !e.expires.IsZero() {
			exp = sqlrow.Micros(e.expires)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO revocations (seq, session_id, jti, kid, user_id, at, expires_at, reason, evict_only)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, seq, e.sessionID, e.jti, e.kid, e.userID, sqlrow.Micros(e.at), exp, e.reason, e.evictOnly); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", s.channel, strconv.FormatInt(last, 10))
	return err
}

// revokeTx revokes the sessions ids that are not revoked yet, with their
// feed entries, and returns the ones it revoked. An UPDATE that waited for
// a concurrent revocation re-checks revoked_at IS NULL against the
// committed row, so a session is revoked, and on the feed, once.
func (s *Store) revokeTx(ctx context.Context, tx dbtx, ids []string, at time.Time, reason string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ids = append([]string(nil), ids...)
	sort.Strings(ids) // one lock order for every revoker
	rows, err := tx.Query(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2
		WHERE id = ANY($3) AND revoked_at IS NULL RETURNING id, user_id`, sqlrow.Micros(at), reason, ids)
	if err != nil {
		return nil, err
	}
	var done []string
	var entries []feedEntry
	for rows.Next() {
		var id, user string
		if err := rows.Scan(&id, &user); err != nil {
			rows.Close()
			return nil, err
		}
		done = append(done, id)
		entries = append(entries, feedEntry{sessionID: id, userID: user, at: at, reason: reason})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return done, s.appendFeed(ctx, tx, entries)
}

func (s *Store) SessionByHash(ctx context.Context, h token.Hash) (store.Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, "SELECT "+sqlrow.SessionCols+" FROM sessions WHERE token_hash = $1", h[:]))
	if err != nil {
		return store.Session{}, fmt.Errorf("postgres: session by hash: %w", err)
	}
	return sess, nil
}

func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, "SELECT "+sqlrow.SessionCols+" FROM sessions WHERE id = $1", id))
	if err != nil {
		return store.Session{}, fmt.Errorf("postgres: session by id: %w", err)
	}
	return sess, nil
}

func (s *Store) ListUserSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.SessionCols+` FROM sessions
		WHERE user_id = $1 AND `+sqlrow.LiveSession(2)+`
		ORDER BY created_at DESC, id COLLATE "C" DESC`, userID, sqlrow.Micros(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: list sessions: %w", err)
	}
	defer rows.Close()
	out, err := sqlrow.All(rows, sqlrow.Session)
	if err != nil {
		return nil, fmt.Errorf("postgres: list sessions: %w", err)
	}
	return out, nil
}

func (s *Store) TouchSessions(ctx context.Context, seen map[string]time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	ats := make([]int64, len(ids))
	for i, id := range ids {
		ats[i] = sqlrow.Micros(seen[id])
	}
	_, err := s.execOne(ctx, `UPDATE sessions AS s SET last_seen_at = v.at
		FROM unnest($1::text[], $2::bigint[]) AS v(id, at)
		WHERE s.id = v.id AND s.last_seen_at < v.at`, ids, ats)
	if err != nil {
		return fmt.Errorf("postgres: touch sessions: %w", err)
	}
	return nil
}

func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time, reason string) (store.Session, error) {
	var out store.Session
	err := s.tx(ctx, func(tx pgx.Tx) error {
		sess, err := scanSession(tx.QueryRow(ctx, "SELECT "+sqlrow.SessionCols+" FROM sessions WHERE id = $1 FOR NO KEY UPDATE", id))
		if err != nil {
			return err
		}
		if !sess.Revoked() {
			if _, err := s.revokeTx(ctx, tx, []string{id}, at, reason); err != nil {
				return err
			}
			sess.RevokedAt, sess.RevokeReason = at.UTC().Truncate(time.Microsecond), reason
		}
		out = sess
		return nil
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("postgres: revoke session: %w", err)
	}
	return out, nil
}

func (s *Store) MarkStepUp(ctx context.Context, id string, at time.Time, reason string) (store.Session, error) {
	var out store.Session
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// The row lock orders this against a concurrent revocation: a
		// revoked session is never marked, and a session is marked once.
		sess, err := scanSession(tx.QueryRow(ctx, "SELECT "+sqlrow.SessionCols+" FROM sessions WHERE id = $1 FOR NO KEY UPDATE", id))
		if err != nil {
			return err
		}
		if sess.Revoked() {
			return store.ErrStale
		}
		if !sess.StepUpRequired() {
			at = at.UTC().Truncate(time.Microsecond)
			if _, err := tx.Exec(ctx, "UPDATE sessions SET step_up_at = $1 WHERE id = $2", sqlrow.Micros(at), id); err != nil {
				return err
			}
			if err := s.appendFeed(ctx, tx, []feedEntry{{sessionID: id, userID: sess.UserID, at: at, reason: reason, evictOnly: true}}); err != nil {
				return err
			}
			sess.StepUpAt = at
		}
		out = sess
		return nil
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("postgres: mark step-up: %w", err)
	}
	return out, nil
}

func (s *Store) RevokeUserSessions(ctx context.Context, userID, except string, at time.Time, reason string) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT id FROM sessions WHERE user_id = $1 AND id <> $2 AND "+sqlrow.UnexpiredSession(3),
			userID, except, sqlrow.Micros(at))
		if err != nil {
			return err
		}
		live, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		ids, err = s.revokeTx(ctx, tx, live, at, reason)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: revoke user sessions: %w", err)
	}
	return ids, nil
}

// Revocations reads committed entries. Numbers follow commit order (see
// appendFeed), so no entry at or below the highest seq read commits later.
func (s *Store) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.RevocationCols+" FROM revocations WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: revocations: %w", err)
	}
	out, err := scanRevocations(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: revocations: %w", err)
	}
	return out, nil
}

func (s *Store) ActiveRevocations(ctx context.Context, sessionsSince, now time.Time) ([]store.Revocation, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+sqlrow.RevocationCols+` FROM revocations
		WHERE (jti = '' AND kid = '' AND at >= $1) OR ((jti <> '' OR kid <> '') AND expires_at > $2) ORDER BY seq`, sqlrow.Micros(sessionsSince), sqlrow.Micros(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: active revocations: %w", err)
	}
	out, err := scanRevocations(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: active revocations: %w", err)
	}
	return out, nil
}

func (s *Store) DenyAccessToken(ctx context.Context, jti, userID string, expires, at time.Time, reason string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		// A concurrent denial of the same jti waits on the key, then finds
		// it taken: one feed entry.
		tag, err := tx.Exec(ctx, "INSERT INTO denied_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING", jti, sqlrow.Micros(expires))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // already denied
		}
		return s.appendFeed(ctx, tx, []feedEntry{{jti: jti, userID: userID, at: at, expires: expires, reason: reason}})
	})
	if err != nil {
		return fmt.Errorf("postgres: deny access token: %w", err)
	}
	return nil
}

// LastRevocationSeq reads the counter, not max(seq): deleting expired
// entries must not move it back, or a follower's cursor would look ahead
// of the feed. A transaction still numbering holds the counter's row lock
// and has not committed; this reads the committed value, below its entries.
func (s *Store) LastRevocationSeq(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, "SELECT last FROM revocation_seq").Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: last revocation: %w", err)
	}
	return v, nil
}

func (s *Store) CountLiveSessions(ctx context.Context, now time.Time) (int, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM sessions WHERE "+sqlrow.UnexpiredSession(1), sqlrow.Micros(now)).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count sessions: %w", err)
	}
	return int(n), nil
}

func (s *Store) DeleteExpired(ctx context.Context, cutoff time.Time) (int, error) {
	var n int64
	c := sqlrow.Micros(cutoff)
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM sessions WHERE expires_at < $1", c)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		for _, q := range []string{
			"DELETE FROM refresh_tokens WHERE expires_at < $1",
			"DELETE FROM access_tokens WHERE expires_at < $1",
			"DELETE FROM denied_tokens WHERE expires_at < $1",
			"DELETE FROM revocations WHERE at < $1 AND expires_at < $1",
		} {
			if _, err := tx.Exec(ctx, q, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired: %w", err)
	}
	return int(n), nil
}

// found maps the driver's no-rows error to store.ErrNotFound.
func found[T any](v T, err error) (T, error) {
	if errors.Is(err, pgx.ErrNoRows) {
		var zero T
		return zero, store.ErrNotFound
	}
	return v, err
}

func scanUser(row sqlrow.Scanner) (store.User, error) { return found(sqlrow.User(row)) }

func scanSession(row sqlrow.Scanner) (store.Session, error) { return found(sqlrow.Session(row)) }

func scanRevocations(rows pgx.Rows) ([]store.Revocation, error) {
	defer rows.Close()
	return sqlrow.All(rows, sqlrow.Revocation)
}
