package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

func migrate(t *testing.T, u string) ([]int, error) {
	t.Helper()
	m, err := store.OpenMigrator(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	return m.Migrate(context.Background())
}

// TestOpenNeverMigrates: an empty schema opens as outdated until migrated,
// through the registry, under both schemes.
func TestOpenNeverMigrates(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	if _, err := store.Open(ctx, u); !errors.Is(err, store.ErrSchemaOutdated) {
		t.Fatalf("Open of an empty schema: %v, want ErrSchemaOutdated", err)
	}
	applied, err := migrate(t, u)
	if want := postgres.VersionsForTest(); err != nil || !reflect.DeepEqual(applied, want) {
		t.Fatalf("Migrate = %v, %v; want %v", applied, err, want)
	}
	alt, _ := url.Parse(u)
	alt.Scheme = "postgresql"
	for _, v := range []string{u, alt.String()} {
		s, err := store.Open(ctx, v)
		if err != nil {
			t.Fatalf("Open %s: %v", v, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	if again, err := migrate(t, u); err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", again, err)
	}
}

// TestConcurrentMigrate: nodes starting together migrate once; the
// advisory lock makes the others wait and find nothing left to do.
func TestConcurrentMigrate(t *testing.T) {
	u := pgtest.URL(t)
	const n = 6
	results := make([][]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := postgres.NewMigrator(context.Background(), u)
			if err != nil {
				errs[i] = err
				return
			}
			defer m.Close()
			results[i], errs[i] = m.Migrate(context.Background())
		}()
	}
	wg.Wait()
	migrated := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		switch {
		case reflect.DeepEqual(results[i], postgres.VersionsForTest()):
			migrated++
		case len(results[i]) != 0:
			t.Fatalf("migrator %d applied %v", i, results[i])
		}
	}
	if migrated != 1 {
		t.Fatalf("%d migrators applied the migrations, want 1", migrated)
	}
}

// TestNewerSchemaRefused: a schema a newer binary migrated is neither
// opened nor migrated.
func TestNewerSchemaRefused(t *testing.T) {
	u := pgtest.URL(t)
	if _, err := migrate(t, u); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, u, "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
	if _, err := migrate(t, u); !errors.Is(err, store.ErrSchemaNewer) {
		t.Fatalf("Migrate of a newer schema: %v, want ErrSchemaNewer", err)
	}
	if _, err := postgres.Open(context.Background(), u); !errors.Is(err, store.ErrSchemaNewer) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaNewer", err)
	}
}

func TestMissingDatabase(t *testing.T) {
	u, _ := url.Parse(pgtest.ServerURL(t))
	u.Path = "/tessera_no_such_database"
	if _, err := store.Open(context.Background(), u.String()); !errors.Is(err, store.ErrNoDatabase) {
		t.Fatalf("Open: %v, want ErrNoDatabase", err)
	}
	if _, err := store.OpenMigrator(context.Background(), u.String()); !errors.Is(err, store.ErrNoDatabase) {
		t.Fatalf("OpenMigrator: %v, want ErrNoDatabase", err)
	}
}

func withParam(t *testing.T, u, k, v string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set(k, v)
	p.RawQuery = q.Encode()
	return p.String()
}

// TestRefusesAsyncCommit: with synchronous_commit off a commit returns
// before it is durable; the store refuses to open on such a server.
func TestRefusesAsyncCommit(t *testing.T) {
	u := pgtest.URL(t)
	if _, err := migrate(t, u); err != nil {
		t.Fatal(err)
	}
	// A server setting in the URL reaches every connection, as a
	// postgresql.conf or ALTER ROLE setting would.
	off := withParam(t, u, "synchronous_commit", "off")
	if _, err := postgres.Open(context.Background(), off); !errors.Is(err, postgres.ErrAsyncCommit) {
		t.Fatalf("Open with synchronous_commit=off: %v, want ErrAsyncCommit", err)
	}
	if _, err := postgres.NewMigrator(context.Background(), off); !errors.Is(err, postgres.ErrAsyncCommit) {
		t.Fatalf("NewMigrator with synchronous_commit=off: %v, want ErrAsyncCommit", err)
	}
	s, err := postgres.Open(context.Background(), withParam(t, withParam(t, u, "synchronous_commit", "local"), "pool_max_conns", "1"))
	if err != nil {
		t.Fatalf("Open with synchronous_commit=local: %v", err)
	}
	defer s.Close()
	// Turned off later (on the one connection, as a configuration reload
	// would): the store stops answering ready.
	if err := s.SetForTest(context.Background(), "synchronous_commit", "off"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(context.Background()); !errors.Is(err, postgres.ErrAsyncCommit) {
		t.Fatalf("Ping with synchronous_commit turned off: %v, want ErrAsyncCommit", err)
	}
}

// TestURLParameters: the statement timeout has a default, the URL can
// change it, and the simple protocol is refused.
func TestURLParameters(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	if _, err := migrate(t, u); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url     string
		timeout string
		conns   int32
	}{
		{u, "10s", 16},
		{withParam(t, withParam(t, u, "statement_timeout", "250ms"), "pool_max_conns", "3"), "250ms", 3},
	} {
		s, err := postgres.Open(ctx, tc.url)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ShowForTest(ctx, "statement_timeout")
		conns := s.MaxConnsForTest()
		s.Close()
		if err != nil || got != tc.timeout || conns != tc.conns {
			t.Fatalf("statement_timeout = %q, %v, pool_max_conns = %d; want %q, %d", got, err, conns, tc.timeout, tc.conns)
		}
	}
	if _, err := postgres.Open(ctx, withParam(t, u, "default_query_exec_mode", "simple_protocol")); err == nil {
		t.Fatal("the simple protocol was accepted")
	}
	if _, err := postgres.Open(ctx, withParam(t, u, "pool_max_conns", "zero")); err == nil {
		t.Fatal("a bad pool_max_conns was accepted")
	}
}

// TestBadURLHidesPassword: a store URL that does not parse, or that pgx
// refuses, is refused without the password in the message (it ends up in
// logs and on the terminal). No server is needed.
func TestBadURLHidesPassword(t *testing.T) {
	for _, u := range []string{
		"postgres://root:SECRET PW@127.0.0.1:5432/te%zst",
		"postgres://root:SECRETPW@127.0.0.1:5432/test?pool_max_conns=zero",
		"postgres://root:SECRETPW@127.0.0.1:5432/test?default_query_exec_mode=simple_protocol",
		"postgres://root:SECRETPW/test", // no @: the password reads as a port
		"postgres://root@127.0.0.1:5432/test?password=SECRETPW&pool_max_conns=zero",
		"postgres:root:SECRETPW",
		"postgres://root:SECRETPW@127.0.0.1:1/test?connect_timeout=1",          // nobody listens
		"postgres://root@127.0.0.1:1/test?password=SECRETPW&connect_timeout=1", // libpq's other place
	} {
		_, err := postgres.Open(context.Background(), u)
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Open(%s): %v; want an error without the password", "…", err)
		}
	}
}
