package keystest

import (
	"context"
	"testing"

	"github.com/tessera-auth/tessera/keys"
)

// New returns a keyset over st, sealed under a new master key and loaded
// (its first active and next keys created if st has none), configured by
// cfg. It fails the test on any error.
func New(t testing.TB, st keys.Store, cfg keys.Config) *keys.Keyset {
	t.Helper()
	mk, _, err := keys.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keys.New(st, mk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ks
}
