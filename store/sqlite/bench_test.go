package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/storetest"
)

// BenchmarkRotate measures durable refresh rotation in the store alone
// (storetest.BenchRotate): serially, one commit and one fsync each, and 32
// families at once, where batching and group commit share commits and fsyncs.
func BenchmarkRotate(b *testing.B) {
	storetest.BenchRotate(b, func(t testing.TB) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "b.db"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
