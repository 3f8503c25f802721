package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "t.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	for range 2 {
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.SchemaVersion(ctx)
		if vs := sqlite.VersionsForTest(); err != nil || v != vs[len(vs)-1] {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
		s.Close()
	}
}

// TestTOTPReplayAcrossHandles opens one database file twice, as two
// processes would.
func TestTOTPReplayAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	a, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.OpenExisting(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	storetest.TOTPReplayAcrossHandles(t, a, b)
}
