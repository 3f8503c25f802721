package password

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// TestQueueFull: with every slot taken and the queue full, one more caller
// is refused at once with ErrQueueFull (an ErrBusy), and the queued ones
// still hash once a slot frees.
func TestQueueFull(t *testing.T) {
	h, err := NewHasher(testParams(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	release := hold(t, h)
	queued := make(chan error, 2)
	for range 2 {
		go func() {
			_, _, err := h.Verify(ctx, encoded, "correct horse battery staple")
			queued <- err
		}()
	}
	for h.waiting.Load() < 2 { // both are waiting for the held slot
		runtime.Gosched()
	}
	// A context that never ends: only the full queue can refuse this call,
	// and it must do so without waiting.
	if _, _, err := h.Verify(ctx, encoded, "correct horse battery staple"); !errors.Is(err, ErrQueueFull) || !errors.Is(err, ErrBusy) {
		t.Fatalf("with the queue full: %v, want ErrQueueFull (an ErrBusy)", err)
	}
	release()
	for range 2 {
		if err := <-queued; err != nil {
			t.Fatalf("a queued call: %v", err)
		}
	}
	if n := h.waiting.Load(); n != 0 {
		t.Fatalf("%d callers still counted as waiting", n)
	}
}

func TestNewHasherQueue(t *testing.T) {
	for _, tt := range []struct{ slots, in, want int }{
		{2, 0, 2 * DefaultQueuePerSlot},
		{2, -1, 2 * DefaultQueuePerSlot},
		{2, 5, 5},
	} {
		h, err := NewHasher(testParams(), tt.slots, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if h.maxQueued != int64(tt.want) {
			t.Errorf("NewHasher(_, %d, %d) queues %d, want %d", tt.slots, tt.in, h.maxQueued, tt.want)
		}
	}
}
