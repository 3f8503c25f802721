package store

import "context"

// FeedListener is a backend's own way of telling every process that shares
// the store that the revocation feed changed, such as PostgreSQL's
// LISTEN/NOTIFY. Backends that have one offer it through an optional
// method the composition root looks for; the others leave cross-process
// revocation to the feed poll. It has the methods of revocation.Notifier,
// so a node's follower and its feed long poll wake on it. A notification
// is only a hint: the feed stays the truth, and every follower keeps
// polling it as the bound on a lost one.
type FeedListener interface {
	// Notify announces a committed revocation. A backend whose writes
	// notify in their own transaction does nothing here.
	Notify(ctx context.Context) error
	// Changed returns a channel closed at the next change of the feed,
	// by any process, and whenever the listener (re)connects, since it
	// may have missed some while it was not listening.
	Changed() <-chan struct{}
	// Close stops listening.
	Close() error
}
