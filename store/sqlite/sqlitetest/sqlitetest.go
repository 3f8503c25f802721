package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tessera-auth/tessera/store/sqlite"
)

// Open creates and migrates a SQLite store in a folder of t's own, and
// closes it when t ends. It fails t when the store cannot be opened.
func Open(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tessera.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
