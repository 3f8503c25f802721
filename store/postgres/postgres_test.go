package postgres_test

import (
	"context"
	"testing"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
	"github.com/tessera-auth/tessera/store/storetest"
)

// migratedURL returns the URL of an empty store at the latest schema, in
// a schema of its own.
func migratedURL(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	u := pgtest.URL(t)
	m, err := postgres.NewMigrator(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return u
}

// migrated opens an empty store at the latest schema.
func migrated(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), migratedURL(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	pgtest.ServerURL(t) // skip (or fail under CI) once, not per subtest
	storetest.Run(t, func(t *testing.T) store.Store { return migrated(t) })
}

// TestTOTPReplayAcrossHandles opens one schema with two pools, as two
// nodes would.
func TestTOTPReplayAcrossHandles(t *testing.T) {
	u := migratedURL(t)
	a, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	storetest.TOTPReplayAcrossHandles(t, a, b)
}
