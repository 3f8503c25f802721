package store

import (
	"context"
	"errors"
	"fmt"
)

// Schema sentinels. A store opens only at the schema its binary was built
// for; migrating is a separate, explicit step (Migrator).
var (
	// ErrNoDatabase means there is no store at the given location. Opening
	// never creates one: a mistyped data folder must not become a fresh,
	// empty store.
	ErrNoDatabase = errors.New("store: no database")
	// ErrSchemaOutdated means migrations are pending.
	ErrSchemaOutdated = errors.New("store: schema is older than this binary")
	// ErrSchemaNewer means a newer binary migrated the store: this one
	// does not know the schema and must not write to it.
	ErrSchemaNewer = errors.New("store: schema is newer than this binary")
)

// SchemaStatus is where a store's schema stands.
type SchemaStatus struct {
	Current int // highest applied migration; 0 for an empty database
	Latest  int // highest migration this binary knows
}

// Pending reports whether migrations remain to be applied.
func (s SchemaStatus) Pending() bool { return s.Current < s.Latest }

// Check returns nil if the schema is exactly the binary's, or an error
// wrapping ErrSchemaOutdated or ErrSchemaNewer that states both versions.
func (s SchemaStatus) Check() error {
	switch {
	case s.Current > s.Latest:
		return fmt.Errorf("%w: schema version %d, this binary knows up to %d", ErrSchemaNewer, s.Current, s.Latest)
	case s.Current < s.Latest:
		return fmt.Errorf("%w: schema version %d, this binary needs %d", ErrSchemaOutdated, s.Current, s.Latest)
	}
	return nil
}

// Migrator inspects and upgrades a store's schema.
type Migrator interface {
	// SchemaStatus reads the schema's versions.
	SchemaStatus(ctx context.Context) (SchemaStatus, error)
	// Migrate applies every pending migration and returns the versions it
	// applied, in order (none when the schema is current). It MUST be safe
	// when several processes migrate one store at once: it holds the
	// backend's migration lock (SQLite: one immediate transaction;
	// PostgreSQL: an advisory lock) and re-reads the status under it, so
	// each migration is applied once. ErrSchemaNewer if the store is ahead
	// of the binary.
	Migrate(ctx context.Context) (applied []int, err error)
	Close() error
}
