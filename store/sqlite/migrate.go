package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations are the embedded migrations in version order, read once.
var migrations, latest = loadMigrations()

func loadMigrations() ([]sqlmigrate.Migration, int) {
	ms, latest, err := sqlmigrate.Load(migrationFS, "migrations/*.sql")
	if err != nil {
		panic("sqlite: " + err.Error())
	}
	return ms, latest
}

// Migrator applies the embedded migrations to one database file.
type Migrator struct {
	db   *sql.DB
	path string
}

var _ store.Migrator = (*Migrator)(nil)

// NewMigrator opens path for schema work, creating an empty database file
// if there is none (its folder must exist).
func NewMigrator(ctx context.Context, path string) (*Migrator, error) {
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	if err := tighten(path); err != nil {
		return nil, err
	}
	// FULL: each migration's commit is durable by itself; the group-commit
	// syncer of a Store is not running here.
	db, err := sql.Open("sqlite", dsn(path, "FULL"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &Migrator{db: db, path: path}, nil
}

// SchemaStatus reads the applied version; Latest is this binary's.
func (m *Migrator) SchemaStatus(ctx context.Context) (store.SchemaStatus, error) {
	return schemaStatus(ctx, m.db)
}

// Migrate applies every pending migration in one immediate transaction:
// BEGIN IMMEDIATE takes SQLite's write lock, so of several processes
// starting at once one migrates and the others, once the lock is theirs,
// find nothing left to do. All or nothing: a failing migration leaves the
// schema where it was.
func (m *Migrator) Migrate(ctx context.Context) ([]int, error) {
	tx, err := m.db.BeginTx(ctx, nil) // _txlock=immediate
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return nil, fmt.Errorf("sqlite: migrate: %w", err)
	}
	var cur sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&cur); err != nil {
		return nil, fmt.Errorf("sqlite: migrate: %w", err)
	}
	st := store.SchemaStatus{Current: int(cur.Int64), Latest: latest}
	if st.Current > st.Latest {
		return nil, fmt.Errorf("sqlite: %s: %w", m.path, st.Check())
	}
	var applied []int
	for _, mg := range migrations {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", mg.Version).Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: migration %s: %w", mg.Name, err)
		}
		if n > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, mg.Body); err != nil {
			return nil, fmt.Errorf("sqlite: migration %s: %w", mg.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", mg.Version, time.Now().UnixMicro()); err != nil {
			return nil, fmt.Errorf("sqlite: migration %s: %w", mg.Name, err)
		}
		applied = append(applied, mg.Version)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: migrate: %w", err)
	}
	return applied, nil
}

// Close closes the migrator's connection.
func (m *Migrator) Close() error { return m.db.Close() }

// schemaStatus reads the highest applied migration without creating
// anything: a database no migrator has touched is at version 0.
func schemaStatus(ctx context.Context, db *sql.DB) (store.SchemaStatus, error) {
	st := store.SchemaStatus{Latest: latest}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").Scan(&n); err != nil {
		return st, fmt.Errorf("sqlite: schema version: %w", err)
	}
	if n == 0 {
		return st, nil
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return st, fmt.Errorf("sqlite: schema version: %w", err)
	}
	st.Current = int(v.Int64)
	return st, nil
}

// The URL forms store.Open accepts for this backend: sqlite:PATH.
func init() {
	store.Register("sqlite", store.Backend{
		Open: func(ctx context.Context, url string) (store.Store, error) {
			p, err := pathOf(url)
			if err != nil {
				return nil, err
			}
			s, err := OpenExisting(ctx, p, Options{})
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return s, nil
		},
		Migrator: func(ctx context.Context, url string) (store.Migrator, error) {
			p, err := pathOf(url)
			if err != nil {
				return nil, err
			}
			m, err := NewMigrator(ctx, p)
			if err != nil {
				return nil, err
			}
			return m, nil
		},
	})
}

// pathOf returns the file path of a sqlite: URL. SQLite would take an
// empty path for a private temporary database: refuse it.
func pathOf(url string) (string, error) {
	_, p, _ := strings.Cut(url, ":")
	if p == "" {
		return "", errors.New("sqlite: store URL sqlite:PATH lacks the PATH")
	}
	return p, nil
}
