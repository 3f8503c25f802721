package keystest_test

import (
	"testing"

	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/keys/keystest"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// TestNew: the keyset is loaded and can sign at once.
func TestNew(t *testing.T) {
	ks := keystest.New(t, sqlitetest.Open(t), keys.Config{})
	if _, err := ks.Active(); err != nil {
		t.Fatalf("Active: %v", err)
	}
}
