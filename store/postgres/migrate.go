package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations are the embedded migrations in version order, read once.
// Their versions match the SQLite backend's: one schema, two dialects.
var migrations, latest = loadMigrations()

func loadMigrations() ([]sqlmigrate.Migration, int) {
	ms, latest, err := sqlmigrate.Load(migrationFS, "migrations/*.sql")
	if err != nil {
		panic("postgres: " + err.Error())
	}
	return ms, latest
}

// migrationLock is the first key of the session-level advisory lock that
// Migrate holds; the second is a hash of the schema migrated, so stores in
// different schemas of one database migrate independently.
const migrationLock = 0x7e55e4a // "tessera"

// Migrator applies the embedded migrations to one database (the first
// schema of its search_path). It holds one connection of its own: a
// session-level advisory lock belongs to a connection, so it cannot be
// taken through a pool, nor through PgBouncer in transaction mode.
type Migrator struct {
	conn *pgx.Conn
	name string // the URL without its password, for errors
}

var _ store.Migrator = (*Migrator)(nil)

// NewMigrator connects to the database rawURL names. It creates no
// database: an operator creates it (CREATE DATABASE), and a missing one is
// store.ErrNoDatabase.
func NewMigrator(ctx context.Context, rawURL string) (*Migrator, error) {
	cfg, name, err := parseConfig(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", name, connectError(err))
	}
	if err := checkDurable(ctx, conn); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("postgres: %s: %w", name, err)
	}
	// Migrations on large tables may outlast the statement timeout meant
	// for requests; the caller's context bounds them instead.
	if _, err := conn.Exec(ctx, "SET statement_timeout = 0"); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("postgres: %s: %w", name, err)
	}
	return &Migrator{conn: conn, name: name}, nil
}

// SchemaStatus reads the applied version; Latest is this binary's.
func (m *Migrator) SchemaStatus(ctx context.Context) (store.SchemaStatus, error) {
	return schemaStatus(ctx, m.conn)
}

// Migrate takes the migration advisory lock (waiting while another node
// holds it), re-reads the schema version under it, and applies every
// pending migration in one transaction: of several nodes starting at once
// one migrates and the others find nothing left to do. All or nothing:
// PostgreSQL's DDL is transactional, so a failing migration leaves the
// schema where it was.
func (m *Migrator) Migrate(ctx context.Context) (applied []int, err error) {
	if _, err := m.conn.Exec(ctx, "SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))", migrationLock); err != nil {
		return nil, fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	defer func() {
		// Unlock even if the caller gave up: the connection outlives ctx.
		_, uerr := m.conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))", migrationLock)
		if err == nil && uerr != nil {
			err = fmt.Errorf("postgres: migrate: unlock: %w", uerr)
		}
	}()
	st, err := schemaStatus(ctx, m.conn)
	if err != nil {
		return nil, err
	}
	if st.Current > st.Latest {
		return nil, fmt.Errorf("postgres: %s: %w", m.name, st.Check())
	}
	if !st.Pending() {
		return nil, nil
	}
	tx, err := m.conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) // after Commit, a no-op
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, mg := range migrations {
		if mg.Version <= st.Current {
			continue
		}
		// A migration is a script of several statements without
		// parameters: pgx sends it as one simple-protocol Query message,
		// the only way to run a script; nothing is interpolated into it.
		if _, err := tx.Exec(ctx, mg.Body); err != nil {
			return nil, fmt.Errorf("postgres: migration %s: %w", mg.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", mg.Version, time.Now().UnixMicro()); err != nil {
			return nil, fmt.Errorf("postgres: migration %s: %w", mg.Name, err)
		}
		applied = append(applied, mg.Version)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return applied, nil
}

// Close closes the migrator's connection.
func (m *Migrator) Close() error { return m.conn.Close(context.Background()) }

// querier is what schemaStatus needs of a connection or a pool.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaStatus reads the highest applied migration without creating
// anything: a database no migrator has touched is at version 0.
func schemaStatus(ctx context.Context, q querier) (store.SchemaStatus, error) {
	st := store.SchemaStatus{Latest: latest}
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return st, fmt.Errorf("postgres: schema version: %w", err)
	}
	if !exists {
		return st, nil
	}
	var v *int64
	if err := q.QueryRow(ctx, "SELECT max(version)::bigint FROM schema_migrations").Scan(&v); err != nil {
		return st, fmt.Errorf("postgres: schema version: %w", err)
	}
	if v != nil {
		st.Current = int(*v)
	}
	return st, nil
}

// The URL forms store.Open accepts for this backend: postgres://… and
// postgresql://… (see parseConfig for the parameters).
func init() {
	b := store.Backend{
		Open: func(ctx context.Context, url string) (store.Store, error) {
			s, err := Open(ctx, url)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return s, nil
		},
		Migrator: func(ctx context.Context, url string) (store.Migrator, error) {
			m, err := NewMigrator(ctx, url)
			if err != nil {
				return nil, err
			}
			return m, nil
		},
	}
	store.Register("postgres", b)
	store.Register("postgresql", b)
}
