package storestate_test

import (
	"context"
	"testing"

	"github.com/tessera-auth/tessera/detect/statetest"
	"github.com/tessera-auth/tessera/detect/storestate"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// The conformance suite runs in store/storetest (both backends) and
// across two PostgreSQL pools (store/postgres); these measure.

// BenchmarkSQLite measures the detection state in a SQLite store.
func BenchmarkSQLite(b *testing.B) {
	statetest.Bench(b, storestate.New(sqlitetest.Open(b)))
}

// BenchmarkPostgres measures it in a PostgreSQL schema of its own.
func BenchmarkPostgres(b *testing.B) {
	ctx := context.Background()
	u := pgtest.URL(b)
	m, err := postgres.NewMigrator(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	m.Close()
	s, err := postgres.Open(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	statetest.Bench(b, storestate.New(s))
}
