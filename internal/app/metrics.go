package app

import (
	"time"

	"github.com/tessera-auth/tessera/store"
)

// fsyncObserving is a store that reports its fsync latency (the embedded
// SQLite store's group commit).
type fsyncObserving interface {
	ObserveFsync(func(time.Duration))
}

// watch hands the metrics what they read at scrape time: the revocation
// feed's staleness, the active signing key's age, and the store's fsyncs.
func (a *App) watch() {
	a.Metrics.WatchFeed(a.Sessions.Follower().LastRead)
	a.Metrics.WatchSigningKey(func() time.Time {
		for _, k := range a.Keys.List() {
			if k.State == store.KeyActive {
				return k.ActivatedAt
			}
		}
		return time.Time{}
	})
	if o, ok := a.Store.(fsyncObserving); ok {
		o.ObserveFsync(a.Metrics.ObserveFsync)
	}
}
