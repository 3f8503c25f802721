package detect

import "time"

// Helpers for the backends of State (package redisstate, detect/storestate).

// CountBuckets is how many buckets a bucketed State.Count divides its
// window into: a count may miss the events of the oldest tenth of the
// window, and never counts an event older than the window.
const CountBuckets = 10

// CountBucket places at in the buckets of window for a bucketed count:
// the events of bucket b are those at or after b·width and before
// (b+1)·width (unix time), and the count at at sums buckets from to b,
// which lie wholly within the window ending at at. A key must be counted
// with one window.
func CountBucket(at time.Time, window time.Duration) (b, from int64, width time.Duration) {
	width = max(window/CountBuckets, time.Microsecond)
	us := at.UnixMicro()
	w := width.Microseconds()
	b = us / w
	if us < 0 && us%w != 0 {
		b-- // floor, for times before 1970
	}
	return b, b - CountBuckets + 1, width
}

// Resolution is the precision to which a State backend may keep times:
// the store and Redis keep microseconds.
const Resolution = time.Microsecond

// RestoreAt gives back at's full precision in what a backend keeping
// times to Resolution returns: a First or Last in at's microsecond is at
// itself, so that a rule can tell the member it has just observed for
// the first time by First == at.
func RestoreAt(seen []Seen, at time.Time) []Seen {
	kept := at.Truncate(Resolution)
	for i := range seen {
		if seen[i].First.Equal(kept) {
			seen[i].First = at
		}
		if seen[i].Last.Equal(kept) {
			seen[i].Last = at
		}
	}
	return seen
}
