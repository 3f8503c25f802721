package revocation

import (
	"context"
	"sync"
)

// Notifier carries "a revocation was committed" between the processes that
// share a store, so followers and long polls need not wait for their next
// poll. It is only a hint: the feed in the store is the truth, and every
// waiter keeps polling as the bound on a lost notification.
//
// Local is the in-process implementation; PostgreSQL LISTEN/NOTIFY and
// Redis pub/sub implement the same interface across nodes.
type Notifier interface {
	// Notify announces a committed revocation. It is called after the
	// commit and must not block long; an error only delays other
	// processes until their next poll.
	Notify(ctx context.Context) error
	// Changed returns a channel closed at the next notification. Take it
	// before reading the feed, so a revocation committed in between is
	// not missed.
	Changed() <-chan struct{}
}

// Local is a Notifier within one process. Safe for concurrent use; the
// zero value is not usable, call NewLocal.
type Local struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewLocal returns an in-process notifier.
func NewLocal() *Local { return &Local{ch: make(chan struct{})} }

// Notify wakes every waiter holding a channel from Changed. It never fails.
func (l *Local) Notify(context.Context) error {
	l.mu.Lock()
	close(l.ch)
	l.ch = make(chan struct{})
	l.mu.Unlock()
	return nil
}

// Changed returns a channel closed at the next Notify.
func (l *Local) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ch
}
