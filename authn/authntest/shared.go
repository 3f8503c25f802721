// Package authntest checks that login state shared between nodes
// (authn.Shared) behaves as one node's: every implementation runs
// RunShared.
package authntest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// Limits are the budgets RunShared's nodes run with.
var Limits = authn.Limits{
	PerIPBurst: 100, PerIPRefill: time.Second,
	PerAccountIPBurst: 3, PerAccountIPRefill: time.Minute,
	PerAccountBurst: 6, PerAccountRefill: time.Minute,
}

// NewShared returns the shared state one node uses; RunShared calls it once
// per node, with the same t, limits and clock, and the state of every call
// in one test must be shared (one key prefix, one Redis).
type NewShared func(t *testing.T, l authn.Limits, now func() time.Time) authn.Shared

const pw = "correct horse battery staple"

// nodes returns two authenticators over one store, each with state from
// newShared, and the clock they share.
func nodes(t *testing.T, newShared NewShared) (a, b *authn.Authenticator, c *clocktest.Clock) {
	t.Helper()
	st := sqlitetest.Open(t)
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	c = clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	node := func() *authn.Authenticator {
		n := authn.New(st, h, password.DefaultPolicy(), Limits, c.Now, nil, nil)
		n.Share(newShared(t, Limits, c.Now))
		return n
	}
	a, b = node(), node()
	if _, err := a.CreateUser(context.Background(), "alice", pw); err != nil {
		t.Fatal(err)
	}
	return a, b, c
}

func throttled(err error) bool {
	var te *authn.ThrottledError
	return errors.As(err, &te)
}

// RunShared runs the shared-state tests against newShared.
func RunShared(t *testing.T, newShared NewShared) {
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.10")

	// Failures on one node count on the other; successes cost nothing;
	// the bucket refills by the clock.
	t.Run("FailuresCountOnEveryNode", func(t *testing.T) {
		a, b, c := nodes(t, newShared)
		for i := range 10 {
			n := []*authn.Authenticator{a, b}[i%2]
			if _, err := n.Login(ctx, "alice", pw, ip); err != nil {
				t.Fatalf("successful login %d: %v", i, err)
			}
		}
		a.Login(ctx, "alice", "wrong password", ip)
		b.Login(ctx, "alice", "wrong password", ip)
		a.Login(ctx, "alice", "wrong password", ip)
		for _, n := range []*authn.Authenticator{a, b} {
			if _, err := n.Login(ctx, "alice", pw, ip); !throttled(err) {
				t.Fatalf("3 failures spread over two nodes, then: %v; want throttled on both", err)
			}
		}
		c.Add(time.Minute)
		if _, err := b.Login(ctx, "alice", pw, ip); err != nil {
			t.Fatalf("after the refill period: %v", err)
		}
	})

	// The account-wide bucket is shared too, and so is the list of known
	// addresses that skip it: the user's usual address, learned on one
	// node, gets in on the other while an attack empties the bucket.
	t.Run("KnownAddressOnEveryNode", func(t *testing.T) {
		a, b, _ := nodes(t, newShared)
		home := netip.MustParseAddr("192.0.2.77")
		if _, err := a.Login(ctx, "alice", pw, home); err != nil {
			t.Fatal(err)
		}
		for i := range Limits.PerAccountBurst {
			attacker := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
			[]*authn.Authenticator{a, b}[i%2].Login(ctx, "alice", "guess guess", attacker)
		}
		if _, err := a.Login(ctx, "alice", pw, netip.MustParseAddr("203.0.113.5")); !throttled(err) {
			t.Fatalf("a new address after the account bucket emptied on two nodes: %v; want throttled", err)
		}
		if _, err := b.Login(ctx, "alice", pw, home); err != nil {
			t.Fatalf("the address known from node A, on node B: %v", err)
		}
	})
}
