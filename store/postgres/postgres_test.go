package postgres_test

import (
	"context"
	"testing"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
	"github.com/tessera-auth/tessera/store/storetest"
)

// migrated returns an empty store at the latest schema in its own schema.
func migrated(t *testing.T) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	u := pgtest.URL(t)
	m, err := postgres.NewMigrator(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	s, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pgtest.ServerURL(t) // skip (or fail under CI) once, not per subtest
	storetest.Run(t, func(t *testing.T) store.Store { return migrated(t) })
}
