package accesstoken

import (
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestKeyOfIsSHA256(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 600, 1024, 1500, 8192} {
		s := strings.Repeat("x", n)
		if n > 0 {
			s = s[:n-1] + "y"
		}
		if KeyOf(s) != sha256.Sum256([]byte(s)) {
			t.Fatalf("KeyOf of %d bytes is not its SHA-256", n)
		}
	}
}

func TestKeyOfConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				s := strings.Repeat(string(rune('a'+g)), 300+i)
				if KeyOf(s) != sha256.Sum256([]byte(s)) {
					t.Error("KeyOf differs from SHA-256 under concurrent use")
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestCacheDeadline: an entry answers until exp + leeway, then reports
// the token expired; an already-due result is not kept.
func TestCacheDeadline(t *testing.T) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	c := NewCache(10, 30*time.Second)
	k := KeyOf("tok")
	claims := &Claims{ID: "j", Expiry: now.Add(time.Minute).Unix()}
	if got, expired := c.Get(k, now); got != nil || expired {
		t.Fatalf("empty cache answered: %v %v", got, expired)
	}
	c.Put(k, claims, c.Generation(), now)
	if got, expired := c.Get(k, now.Add(90*time.Second-time.Nanosecond)); got != claims || expired {
		t.Fatalf("within exp+leeway: %v %v", got, expired)
	}
	if got, expired := c.Get(k, now.Add(90*time.Second)); got != nil || !expired {
		t.Fatalf("at exp+leeway: %v expired=%v, want nil, true", got, expired)
	}
	if got, _ := c.Get(KeyOf("tok2"), now); got != nil {
		t.Fatal("another token answered from the cache")
	}

	strict := NewCache(10, 0)
	strict.Put(k, claims, strict.Generation(), now.Add(time.Minute))
	if strict.Len() != 0 {
		t.Fatal("a result already past its deadline was cached")
	}
}

// TestCacheKeyRemoval: a key leaving the key set empties the cache, and a
// verification that began before (its generation) cannot refill it; a key
// joining the set changes nothing.
func TestCacheKeyRemoval(t *testing.T) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	c := NewCache(10, 0)
	claims := &Claims{ID: "j", Expiry: now.Add(time.Hour).Unix()}
	a, b := KeyOf("a"), KeyOf("b")
	c.KeySet([]string{"k1", "k2"})
	c.Put(a, claims, c.Generation(), now)

	c.KeySet([]string{"k1", "k2", "k3"}) // a next key is published
	if got, _ := c.Get(a, now); got != claims {
		t.Fatal("adding a key purged the cache")
	}

	gen := c.Generation()          // a verification begins…
	c.KeySet([]string{"k2", "k3"}) // …k1 is retired meanwhile…
	c.Put(b, claims, gen, now)     // …and the verification ends.
	if got, _ := c.Get(a, now); got != nil {
		t.Fatal("a key removal left the cache filled")
	}
	if got, _ := c.Get(b, now); got != nil {
		t.Fatal("a verification that raced a key removal refilled the cache")
	}
	c.Put(b, claims, c.Generation(), now)
	if got, _ := c.Get(b, now); got != claims {
		t.Fatal("verified claims were not cached after the removal")
	}
	c.Purge()
	if c.Len() != 0 {
		t.Fatal("Purge left entries")
	}
}

func TestCacheBounded(t *testing.T) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	c := NewCache(10, 0)
	for i := range 100 {
		c.Put(KeyOf(strings.Repeat("x", i)), &Claims{Expiry: now.Add(time.Hour).Unix()}, c.Generation(), now)
		if c.Len() > 10 {
			t.Fatalf("%d entries, max 10", c.Len())
		}
	}
}

// TestCacheConcurrent runs lookups, inserts and key-set changes at once
// (for the race detector), then checks that a purge still empties it.
func TestCacheConcurrent(t *testing.T) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	c := NewCache(50, 0)
	claims := &Claims{Expiry: now.Add(time.Hour).Unix()}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				k := KeyOf(strings.Repeat("t", g*1000+i%80))
				if got, _ := c.Get(k, now); got == nil {
					c.Put(k, claims, c.Generation(), now)
				}
				if i%100 == 0 {
					c.KeySet([]string{"k1", string(rune('a' + i/100))})
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Fatalf("%d entries, max 50", c.Len())
	}
	c.Purge()
	if c.Len() != 0 {
		t.Fatal("Purge left entries")
	}
}
