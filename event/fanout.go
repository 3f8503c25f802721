package event

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Fanout is a Sink that delivers every event to each subscriber that wants
// its kind. Delivery is synchronous, in subscription order, on the
// publisher's goroutine, after the state change the event reports:
//
//   - a slow subscriber slows the operation that published (so a
//     subscriber with slow work — a webhook, a remote audit log — queues
//     it and returns);
//   - a subscriber cannot fail the operation, and a panicking one is
//     recovered and logged, and the later subscribers still get the event;
//   - a kind no subscriber wants costs one atomic load and an index: the
//     per-request events (SessionValidated) are free until someone wants them.
//
// Safe for concurrent use; subscribing while events flow is allowed.
type Fanout struct {
	log *slog.Logger

	mu    sync.Mutex // serialises Subscribe
	table atomic.Pointer[[numKinds][]Sink]
}

// NewFanout returns a fanout with no subscribers. log receives recovered
// subscriber panics (nil: discarded).
func NewFanout(log *slog.Logger) *Fanout {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Fanout{log: log}
	f.table.Store(new([numKinds][]Sink))
	return f
}

// Subscribe adds s for the given kinds, or for every kind if none are given.
func (f *Fanout) Subscribe(s Sink, kinds ...Kind) {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := *f.table.Load() // copy: publishers may be reading the old table
	add := func(k Kind) {
		next[k] = append(next[k][:len(next[k]):len(next[k])], s)
	}
	if len(kinds) == 0 {
		for k := Kind(1); k < numKinds; k++ {
			add(k)
		}
	}
	for _, k := range kinds {
		if k > 0 && k < numKinds {
			add(k)
		}
	}
	f.table.Store(&next)
}

// Wants reports whether any subscriber wants kind k, for a publisher whose
// event would be costly to build.
func (f *Fanout) Wants(k Kind) bool {
	return f != nil && k < numKinds && len(f.table.Load()[k]) > 0
}

// Publish delivers e to every subscriber of its kind. A nil *Fanout
// delivers nothing.
func (f *Fanout) Publish(ctx context.Context, e Event) {
	if f == nil || e.Kind >= numKinds {
		return
	}
	subs := f.table.Load()[e.Kind]
	if len(subs) == 0 {
		return
	}
	e = e.FromContext(ctx)
	for _, s := range subs {
		f.deliver(ctx, s, e)
	}
}

func (f *Fanout) deliver(ctx context.Context, s Sink, e Event) {
	defer func() {
		if r := recover(); r != nil {
			f.log.Error("event subscriber panicked", "event", e.Kind.String(), "panic", r)
		}
	}()
	s.Publish(ctx, e)
}
