package authn_test

import (
	"testing"
	"time"

	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/authn/authntest"
	"github.com/tessera-auth/tessera/throttle"
)

// TestSharedInMemory: nodes sharing one process's limiters and list (as a
// shared backend shares them between processes) throttle as one.
func TestSharedInMemory(t *testing.T) {
	var shared *authn.Shared
	authntest.RunShared(t, func(t *testing.T, l authn.Limits, now func() time.Time) authn.Shared {
		if shared == nil {
			shared = &authn.Shared{
				PerIP:        throttle.New(l.PerIPBurst, l.PerIPRefill, now),
				PerAccountIP: throttle.New(l.PerAccountIPBurst, l.PerAccountIPRefill, now),
				PerAccount:   throttle.New(l.PerAccountBurst, l.PerAccountRefill, now),
				Known:        authn.NewMemoryKnown(now),
			}
			t.Cleanup(func() { shared = nil })
		}
		return *shared
	})
}
