package eventtest

import (
	"context"
	"sync"

	"github.com/tessera-auth/tessera/event"
)

// Recorder is an event.Sink that keeps every event it is given. Safe for
// concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []event.Event
}

// Publish records e.
func (r *Recorder) Publish(_ context.Context, e event.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns the recorded events, oldest first.
func (r *Recorder) Events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.events...)
}

// Of returns the recorded events of kind k, oldest first.
func (r *Recorder) Of(k event.Kind) []event.Event {
	var out []event.Event
	for _, e := range r.Events() {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// Reset forgets the recorded events.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}
