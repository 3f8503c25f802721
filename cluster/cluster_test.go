package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/cluster"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

func TestSettle(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)

	// The first node records what it sets.
	first := cluster.Want{Issuer: "https://auth.example", PublicOrigin: "https://auth.example", Shared: true}
	if s, err := cluster.Settle(ctx, st, first); err != nil || s != (cluster.Settings{Issuer: "https://auth.example", PublicOrigin: "https://auth.example"}) {
		t.Fatalf("first node: %+v, %v", s, err)
	}
	// A node agreeing starts; one setting nothing adopts the cluster's.
	if _, err := cluster.Settle(ctx, st, first); err != nil {
		t.Fatalf("agreeing node: %v", err)
	}
	if s, err := cluster.Settle(ctx, st, cluster.Want{Shared: true}); err != nil || s.Issuer != "https://auth.example" || s.PublicOrigin != "https://auth.example" {
		t.Fatalf("node without settings: %+v, %v; want the cluster's adopted", s, err)
	}
	// A node disagreeing is refused, with both values and the way out.
	_, err := cluster.Settle(ctx, st, cluster.Want{Issuer: "http://10.0.0.7:8080"})
	if !errors.Is(err, cluster.ErrMismatch) {
		t.Fatalf("disagreeing issuer: %v, want ErrMismatch", err)
	}
	for _, want := range []string{`"http://10.0.0.7:8080"`, `"https://auth.example"`, "policy.tokens.issuer", "UPDATE cluster_settings"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := cluster.Settle(ctx, st, cluster.Want{Issuer: "https://auth.example", PublicOrigin: "https://other.example"}); !errors.Is(err, cluster.ErrMismatch) {
		t.Fatalf("disagreeing public origin: %v, want ErrMismatch", err)
	}
	if v, _ := st.Setting(ctx, store.SettingIssuer); v != "https://auth.example" {
		t.Fatalf("a refused node changed the issuer to %q", v)
	}
}

func TestSettleSharedNeedsIssuer(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	if _, err := cluster.Settle(ctx, st, cluster.Want{Shared: true}); !errors.Is(err, cluster.ErrNoIssuer) {
		t.Fatalf("shared store, no issuer anywhere: %v, want ErrNoIssuer", err)
	}
	// A single node's store without settings keeps each default.
	if s, err := cluster.Settle(ctx, st, cluster.Want{}); err != nil || s != (cluster.Settings{}) {
		t.Fatalf("unshared store, nothing set: %+v, %v", s, err)
	}
}

func TestLease(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	clock := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	a := cluster.NewLease(st, "gc", "a", time.Minute, clock.Now)
	b := cluster.NewLease(st, "gc", "b", time.Minute, clock.Now)
	held := func(l *cluster.Lease, want bool, when string) {
		t.Helper()
		if ok, err := l.Acquire(ctx); err != nil || ok != want {
			t.Fatalf("%s: Acquire = %v, %v; want %v", when, ok, err, want)
		}
	}
	held(a, true, "free lease")
	held(b, false, "a holds it")
	clock.Add(50 * time.Second)
	held(a, true, "a renews")
	clock.Add(50 * time.Second) // past a's first term, within its renewal
	held(b, false, "a renewed")
	clock.Add(time.Minute) // a stopped renewing
	held(b, true, "a's lease expired")
	held(a, false, "b holds it")
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	held(a, true, "b released it")
	if h1, h2 := cluster.Holder(), cluster.Holder(); h1 == h2 {
		t.Fatalf("two processes would share the holder %q", h1)
	}
}
