package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// testClusterSettings: the first value stored under a name stays; nodes
// racing to store different values all get the same one back.
func testClusterSettings(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.Setting(ctx, store.SettingIssuer); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Setting(unset) = %v, want ErrNotFound", err)
	}
	if v, err := s.InitSetting(ctx, store.SettingIssuer, "https://a.example"); err != nil || v != "https://a.example" {
		t.Fatalf("InitSetting(first) = %q, %v", v, err)
	}
	if v, err := s.InitSetting(ctx, store.SettingIssuer, "https://b.example"); err != nil || v != "https://a.example" {
		t.Fatalf("InitSetting(second) = %q, %v; want the first value kept", v, err)
	}
	if v, err := s.Setting(ctx, store.SettingIssuer); err != nil || v != "https://a.example" {
		t.Fatalf("Setting = %q, %v", v, err)
	}
	if _, err := s.Setting(ctx, store.SettingPublicOrigin); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another name is set: %v", err)
	}

	const n = 16
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.InitSetting(ctx, "race", fmt.Sprintf("node-%d", i))
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] || got[i] == "" {
			t.Fatalf("racing nodes got different values: %q", got)
		}
	}
}

// testLeases: one holder at a time until expiry by the callers' clock;
// the holder renews; a release frees the lease at once; names are
// independent; of holders racing for a free lease exactly one wins.
func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	const ttl = time.Minute
	acquire := func(name, holder string, at time.Time, want bool) {
		t.Helper()
		got, err := s.AcquireLease(ctx, name, holder, ttl, at)
		if err != nil || got != want {
			t.Fatalf("AcquireLease(%s, %s, +%v) = %v, %v; want %v", name, holder, at.Sub(base), got, err, want)
		}
	}
	acquire("gc", "a", base, true)
	acquire("gc", "b", base.Add(time.Second), false)
	acquire("gc", "a", base.Add(30*time.Second), true) // renewal: now held until +90s
	acquire("gc", "b", base.Add(ttl), false)           // the first term has passed, the renewed one has not
	acquire("gc", "b", base.Add(30*time.Second+ttl-time.Microsecond), false)
	acquire("keys", "b", base, true) // another lease
	acquire("gc", "b", base.Add(30*time.Second+ttl), true)
	acquire("gc", "a", base.Add(31*time.Second+ttl), false)

	if err := s.ReleaseLease(ctx, "gc", "a"); err != nil { // not a's: nothing happens
		t.Fatal(err)
	}
	acquire("gc", "a", base.Add(32*time.Second+ttl), false)
	if err := s.ReleaseLease(ctx, "gc", "b"); err != nil {
		t.Fatal(err)
	}
	acquire("gc", "a", base.Add(32*time.Second+ttl), true)

	const n = 16
	var wins sync.Map
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.AcquireLease(ctx, "race", fmt.Sprintf("node-%d", i), ttl, base)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Store(i, true)
			}
		}()
	}
	wg.Wait()
	count := 0
	wins.Range(func(any, any) bool { count++; return true })
	if count != 1 {
		t.Fatalf("%d holders won one free lease, want exactly 1", count)
	}
}
