package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
)

// latestVersion is the highest embedded migration.
func latestVersion(t *testing.T) int {
	t.Helper()
	m := newMigrator(t, filepath.Join(t.TempDir(), "probe.db"))
	st, err := m.SchemaStatus(context.Background())
	if err != nil || st.Latest < 7 {
		t.Fatalf("SchemaStatus = %+v, %v", st, err)
	}
	return st.Latest
}

// newMigrator opens a migrator on the database at path (created when
// missing) and closes it when t ends.
func newMigrator(t *testing.T, path string) *sqlite.Migrator {
	t.Helper()
	m, err := sqlite.NewMigrator(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// versionsUpTo is every embedded migration version up to latest, in
// order (the numbers may have gaps).
func versionsUpTo(latest int) []int {
	var vs []int
	for _, v := range sqlite.VersionsForTest() {
		if v <= latest {
			vs = append(vs, v)
		}
	}
	return vs
}

// TestMigratorIsIdempotent: the first Migrate applies every migration in
// order, the second nothing, and the status says current.
func TestMigratorIsIdempotent(t *testing.T) {
	ctx := context.Background()
	latest := latestVersion(t)
	m := newMigrator(t, filepath.Join(t.TempDir(), "t.db"))
	if st, err := m.SchemaStatus(ctx); err != nil || st != (store.SchemaStatus{Current: 0, Latest: latest}) || !st.Pending() {
		t.Fatalf("fresh database: %+v, %v", st, err)
	}
	applied, err := m.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := versionsUpTo(latest)
	if !slices.Equal(applied, want) {
		t.Fatalf("first Migrate applied %v, want %v", applied, want)
	}
	for range 2 {
		applied, err = m.Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Fatalf("Migrate again: applied %v, %v; want nothing", applied, err)
		}
	}
	if st, err := m.SchemaStatus(ctx); err != nil || st.Current != latest || st.Pending() || st.Check() != nil {
		t.Fatalf("after Migrate: %+v, %v", st, err)
	}
}

// TestConcurrentMigrate: processes starting together on one fresh file
// each Migrate; every migration is applied exactly once and all succeed.
func TestConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	latest := latestVersion(t)
	path := filepath.Join(t.TempDir(), "t.db")
	const n = 4
	ms := make([]*sqlite.Migrator, n)
	for i := range ms {
		ms[i] = newMigrator(t, path)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied []int
		errs    []error
	)
	start := make(chan struct{})
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, err := m.Migrate(ctx)
			mu.Lock()
			defer mu.Unlock()
			applied = append(applied, a...)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent Migrate failed: %v", errs)
	}
	slices.Sort(applied)
	want := versionsUpTo(latest)
	if !slices.Equal(applied, want) {
		t.Fatalf("migrations applied %v: want each of %v once", applied, want)
	}
	s, err := sqlite.OpenExisting(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestNewerSchemaRefused: a database a newer binary migrated is neither
// opened nor migrated by this one, whichever way it is reached.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	latest := latestVersion(t)
	path := filepath.Join(t.TempDir(), "t.db")
	m := newMigrator(t, path)
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// What a newer binary's migration would leave behind.
	if err := sqlite.ExecForTest(ctx, path, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", latest+1); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx); !errors.Is(err, store.ErrSchemaNewer) {
		t.Errorf("Migrate: %v, want ErrSchemaNewer", err)
	}
	if _, err := sqlite.OpenExisting(ctx, path, sqlite.Options{}); !errors.Is(err, store.ErrSchemaNewer) {
		t.Errorf("OpenExisting: %v, want ErrSchemaNewer", err)
	}
	if _, err := sqlite.Open(ctx, path, sqlite.Options{}); !errors.Is(err, store.ErrSchemaNewer) {
		t.Errorf("Open: %v, want ErrSchemaNewer", err)
	}
	if _, err := store.Open(ctx, "sqlite:"+path); !errors.Is(err, store.ErrSchemaNewer) {
		t.Errorf("store.Open: %v, want ErrSchemaNewer", err)
	}
}

// TestOpenExistingCreatesNothing: a missing file is ErrNoDatabase and stays
// missing; an untouched (empty) database is outdated, not silently migrated.
func TestOpenExistingCreatesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := sqlite.OpenExisting(ctx, missing, sqlite.Options{}); !errors.Is(err, store.ErrNoDatabase) {
		t.Fatalf("OpenExisting(missing): %v, want ErrNoDatabase", err)
	}
	if _, err := store.Open(ctx, "sqlite:"+missing); !errors.Is(err, store.ErrNoDatabase) {
		t.Fatalf("store.Open(missing): %v, want ErrNoDatabase", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("opening a missing database created %v", entries)
	}
	empty := filepath.Join(dir, "empty.db")
	m, err := sqlite.NewMigrator(ctx, empty)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := store.Open(ctx, "sqlite:"+empty); !errors.Is(err, store.ErrSchemaOutdated) {
		t.Fatalf("store.Open(unmigrated): %v, want ErrSchemaOutdated", err)
	}
}

// TestRegistry: store.Open dispatches on the URL's scheme.
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	if !slices.Contains(store.Schemes(), "sqlite") {
		t.Fatalf("schemes %v lack sqlite", store.Schemes())
	}
	for _, u := range []string{"postgres://db/tessera", "mysql://x"} {
		if _, err := store.Open(ctx, u); !errors.Is(err, store.ErrUnsupported) {
			t.Errorf("store.Open(%q): %v, want ErrUnsupported", u, err)
		}
		if _, err := store.OpenMigrator(ctx, u); !errors.Is(err, store.ErrUnsupported) {
			t.Errorf("store.OpenMigrator(%q): %v, want ErrUnsupported", u, err)
		}
	}
	for _, u := range []string{"sqlite:", "no-scheme"} {
		if _, err := store.Open(ctx, u); err == nil {
			t.Errorf("store.Open(%q) succeeded", u)
		}
	}
	path := filepath.Join(t.TempDir(), "t.db")
	m, err := store.OpenMigrator(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	s, err := store.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*sqlite.Store); !ok {
		t.Fatalf("store.Open(sqlite:) returned %T", s)
	}
}
