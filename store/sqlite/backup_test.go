package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// TestBackupHoldsTheWAL: a snapshot of a store in use holds what is still
// only in the WAL (a copy of the database file alone does not), and
// opens as a store of its own.
func TestBackupHoldsTheWAL(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := sqlitetest.NewUser(t, st, at)
	if fi, err := os.Stat(st.Path() + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the user is not in the WAL: %v %v", fi, err)
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	if err := st.Backup(ctx, out); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if err := st.Backup(ctx, out); err == nil {
		t.Fatal("backup over an existing file")
	}
	b, err := sqlite.OpenExisting(ctx, out, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, err := b.UserByID(ctx, u.ID); err != nil || got.Username != u.Username {
		t.Fatalf("user in the backup: %+v, %v", got, err)
	}
	var _ store.Store = b
}
