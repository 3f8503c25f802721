package store

import (
	"context"
	"time"
)

// DetectSeen is one member of an observed set (detect.Seen): when it was
// first and last seen.
type DetectSeen struct {
	Member      string
	First, Last time.Time
}

// DetectState keeps detection rules' windowed state in the store, for a
// cluster without Redis (package detect/storestate makes it a
// detect.State). Primitives only: windows and buckets are the caller's.
// Times are the callers' clocks; nothing expires by the database's.
// Every method is atomic on its key, against every node sharing the store.
type DetectState interface {
	// DetectObserve, in one step on key: forgets the members last seen
	// before since; records member as seen at at (its first sighting kept
	// if it was not forgotten, its last never moved back); keeps only the
	// max most recently seen members; and returns them, most recently
	// seen first. The entries may be deleted once expires has passed.
	DetectObserve(ctx context.Context, key, member string, at, since time.Time, max int, expires time.Time) ([]DetectSeen, error)
	// DetectCount adds one to key's bucket and returns the sum of key's
	// buckets from through bucket. The bucket may be deleted once expires
	// has passed.
	DetectCount(ctx context.Context, key string, bucket, from int64, expires time.Time) (int64, error)
	// DetectOnce claims key until until and reports true if it is
	// unclaimed at at (never claimed, or its claim ended at or before
	// at); otherwise it changes nothing and reports false. Of callers
	// racing for one key, at most one wins.
	DetectOnce(ctx context.Context, key string, at, until time.Time) (bool, error)
	// DeleteExpiredDetectState deletes the entries whose expiry is before
	// cutoff, and returns how many.
	DeleteExpiredDetectState(ctx context.Context, cutoff time.Time) (int, error)
}
