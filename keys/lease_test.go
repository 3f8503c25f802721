package keys

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/cluster"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// countingStore counts the rotations a node attempts.
type countingStore struct {
	Store
	rotations atomic.Int32
}

func (s *countingStore) RotateSigningKeys(ctx context.Context, expect string, next store.SigningKey, at time.Time) error {
	s.rotations.Add(1)
	return s.Store.RotateSigningKeys(ctx, expect, next, at)
}

// TestScheduledRotationTakesTheLease: two nodes tick at every schedule;
// only the one holding the lease attempts the rotation, and each schedule
// yields one rotation for the cluster. When the holder stops, the other
// node takes the lease over once it expires.
func TestScheduledRotationTakesTheLease(t *testing.T) {
	ctx := context.Background()
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := sqlitetest.Open(t)
	m := master(t)
	node := func(holder string) (*Keyset, *countingStore) {
		cs := &countingStore{Store: st}
		ks, err := New(cs, m, Config{Alg: "ES256", RotationInterval: 24 * time.Hour, RetiredTTL: time.Hour, Now: c.Now,
			// The ttl outlasts the test's tick interval (a day), as the
			// real one outlasts the real interval.
			Lease: cluster.NewLease(st, "keys", holder, 25*time.Hour, c.Now)})
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.Load(ctx); err != nil {
			t.Fatal(err)
		}
		return ks, cs
	}
	a, sa := node("a")
	b, sb := node("b")
	if err := a.Tick(ctx); err != nil { // a takes the lease first
		t.Fatal(err)
	}
	for day := 1; day <= 3; day++ {
		c.Add(24 * time.Hour)
		// b first: without the lease, b would find the key due and rotate.
		for _, ks := range []*Keyset{b, a, b, a} {
			if err := ks.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if r := sb.rotations.Load(); r != 0 {
			t.Fatalf("day %d: node b, not holding the lease, attempted %d rotations", day, r)
		}
		if r := sa.rotations.Load(); r != int32(day) {
			t.Fatalf("day %d: node a attempted %d rotations in all, want one per day", day, r)
		}
	}
	// a stops ticking; once its lease expires, b does the next rotation.
	c.Add(25 * time.Hour)
	if err := b.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if r := sb.rotations.Load(); r != 1 {
		t.Fatalf("node b attempted %d rotations after a's lease expired, want 1", r)
	}
	if stored, err := st.ListSigningKeys(ctx); err != nil || len(stored) != 3 {
		t.Fatalf("%d keys stored (%v), want retired, active and next: b deletes old retired keys too", len(stored), err)
	}
}
