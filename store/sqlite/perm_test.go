//go:build unix

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
)

// The database and its -wal and -shm files hold password hashes and token
// hashes: only their owner may read them, whatever the umask (issue 10,
// L6), and files an older version left readable are tightened on open.
func TestFilesArePrivate(t *testing.T) {
	// The loosest umask: any permission the files get is ours, not the
	// umask's. Process-wide, so restored at once.
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tessera.db")
	files := []string{path, path + "-wal", path + "-shm"}
	wantPrivate := func(when string) {
		t.Helper()
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: %s has mode %v, want 0600", when, filepath.Base(f), fi.Mode().Perm())
			}
		}
	}
	// Private from the first byte: the migrator creates the files.
	m, err := sqlite.NewMigrator(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	wantPrivate("migrated")
	st, err := sqlite.OpenExisting(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	// A write, so that the -wal and -shm files exist.
	if err := st.CreateUser(ctx, store.User{ID: "u1", Username: "ann", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	wantPrivate("created")

	// Files an older version created readable by all are tightened.
	for _, f := range files {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st2, err := sqlite.OpenExisting(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantPrivate("reopened")
	st2.Close()
	st.Close()
}
