package replay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/internal/clocktest"
)

var ctx = context.Background()

// TestMemory: a key is fresh once until its ttl passes, concurrent uses
// have exactly one winner, and a full cache refuses (fail closed) rather
// than forget an unexpired key.
func TestMemory(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := NewMemory(3, clk.Now)
	if ok, err := m.Use(ctx, "totp:u:1", 30*time.Second); !ok || err != nil {
		t.Fatalf("first use: %v %v", ok, err)
	}
	if ok, _ := m.Use(ctx, "totp:u:1", 30*time.Second); ok {
		t.Fatal("a second use is fresh")
	}
	clk.Add(29 * time.Second)
	if ok, _ := m.Use(ctx, "totp:u:1", 30*time.Second); ok {
		t.Fatal("fresh again before its ttl")
	}
	clk.Add(time.Second)
	if ok, _ := m.Use(ctx, "totp:u:1", 30*time.Second); !ok {
		t.Fatal("not fresh after its ttl")
	}
	m.Use(ctx, "a", time.Hour)
	m.Use(ctx, "b", time.Hour)
	if ok, err := m.Use(ctx, "c", time.Hour); ok || !errors.Is(err, ErrFull) {
		t.Fatalf("full of unexpired keys: %v %v, want ErrFull", ok, err)
	}
	if ok, _ := m.Use(ctx, "a", time.Hour); ok {
		t.Fatal("a full cache forgot an unexpired key")
	}
	clk.Add(time.Hour)
	if ok, err := m.Use(ctx, "c", time.Hour); !ok || err != nil {
		t.Fatalf("expired keys were not dropped to make room: %v %v", ok, err)
	}
	if _, err := m.Use(ctx, "d", 0); !errors.Is(err, ErrTTL) {
		t.Fatalf("ttl 0: %v", err)
	}

	var fresh atomic.Int32
	var wg sync.WaitGroup
	m = NewMemory(0, nil)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := m.Use(ctx, "dpop:j", time.Minute); ok {
				fresh.Add(1)
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d fresh uses, want 1", fresh.Load())
	}
}
