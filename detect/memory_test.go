package detect_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/internal/clocktest"
)

func TestMemoryObserve(t *testing.T) {
	ctx := context.Background()
	m := detect.NewMemory(0, clocktest.New(t0).Now)
	obs := func(member string, at time.Time) []detect.Seen {
		t.Helper()
		s, err := m.Observe(ctx, "k", member, at, time.Hour, 3)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	obs("a", t0)
	obs("b", t0.Add(10*time.Minute))
	s := obs("a", t0.Add(20*time.Minute))
	if len(s) != 2 || s[0].Member != "a" || !s[0].First.Equal(t0) || !s[0].Last.Equal(t0.Add(20*time.Minute)) || s[1].Member != "b" {
		t.Fatalf("seen = %+v", s)
	}
	// b was last seen 10 minutes in: forgotten past 1h10m.
	s = obs("c", t0.Add(71*time.Minute))
	if len(s) != 2 || s[0].Member != "c" || s[1].Member != "a" {
		t.Fatalf("seen = %+v, want c, a", s)
	}
	// At most max, the least recently seen forgotten.
	obs("d", t0.Add(72*time.Minute))
	s = obs("e", t0.Add(73*time.Minute))
	if len(s) != 3 || s[0].Member != "e" || s[2].Member != "c" {
		t.Fatalf("seen = %+v", s)
	}
}

func TestMemoryCountSlides(t *testing.T) {
	ctx := context.Background()
	m := detect.NewMemory(0, clocktest.New(t0).Now)
	var n int64
	for i := range 10 {
		var err error
		if n, err = m.Count(ctx, "k", t0.Add(time.Duration(i)*time.Minute), 10*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n != 10 {
		t.Fatalf("count = %d, want 10", n)
	}
	n, _ = m.Count(ctx, "k", t0.Add(25*time.Minute), 10*time.Minute)
	if n != 1 {
		t.Fatalf("count after the window = %d, want 1", n)
	}
	// Bucketed: at most one bucket (window/16) of older events counts.
	m.Count(ctx, "j", t0, 16*time.Minute)
	if n, _ = m.Count(ctx, "j", t0.Add(16*time.Minute+30*time.Second), 16*time.Minute); n != 2 {
		t.Errorf("count within a bucket past the window = %d, want 2", n)
	}
	if n, _ = m.Count(ctx, "j", t0.Add(17*time.Minute), 16*time.Minute); n != 2 {
		t.Errorf("count a bucket past the window = %d, want 2 (the first forgotten)", n)
	}
}

func TestMemoryOnce(t *testing.T) {
	ctx := context.Background()
	m := detect.NewMemory(0, nil)
	for i, want := range []bool{true, false, false, true} {
		at := t0.Add([]time.Duration{0, time.Minute, 59 * time.Minute, time.Hour}[i])
		if got, _ := m.Once(ctx, "k", at, time.Hour); got != want {
			t.Errorf("Once at +%v = %v, want %v", at.Sub(t0), got, want)
		}
	}
}

func TestMemoryIsBounded(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	m := detect.NewMemory(100, clock.Now)
	for i := range 1000 {
		m.Count(ctx, fmt.Sprint("k", i), clock.Now(), time.Minute)
		m.Once(ctx, fmt.Sprint("o", i), clock.Now(), time.Minute)
		clock.Add(time.Second)
	}
	if n := m.Len(); n > 100 {
		t.Fatalf("%d keys, want at most 100", n)
	}
	// The newest key survives.
	if first, _ := m.Once(ctx, "o999", clock.Now(), time.Minute); first {
		t.Error("the newest claim was forgotten")
	}
}
