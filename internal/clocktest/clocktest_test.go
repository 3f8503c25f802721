package clocktest

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	c := New(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("New(t0).Now() = %v", got)
	}
	c.Add(90 * time.Second)
	if got, want := c.Now(), t0.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Add: %v, want %v", got, want)
	}
	c.Add(-time.Minute)
	if got, want := c.Now(), t0.Add(30*time.Second); !got.Equal(want) {
		t.Fatalf("after a negative Add: %v, want %v", got, want)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("after Set: %v, want %v", got, t0)
	}
	var zero Clock
	if !zero.Now().IsZero() {
		t.Fatal("the zero Clock does not read the zero time")
	}
}

// TestNoMonotonicReading: a clock set from time.Now reads a time that
// compares by the wall clock, as the atomic nanosecond clocks it replaced did.
func TestNoMonotonicReading(t *testing.T) {
	now := time.Now()
	for _, c := range []*Clock{New(now), {}} {
		c.Set(now)
		if got := c.Now(); got != now.Round(0) {
			t.Fatalf("Now() = %#v, want the wall-clock reading %#v", got, now.Round(0))
		}
	}
}

// TestConcurrentUse runs under the race detector: readers and writers at once.
func TestConcurrentUse(t *testing.T) {
	c := New(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 100 {
				c.Add(time.Second)
			}
		}()
		go func() {
			defer wg.Done()
			for range 100 {
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
	if got, want := c.Now(), time.Date(2026, 5, 1, 9, 6, 40, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("after 400 concurrent one-second Adds: %v, want %v", got, want)
	}
}
