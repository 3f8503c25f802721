package redisstate

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/tessera-auth/tessera/detect"
)

// localDetect is the node's own detection state, Detect's fallback when
// its caller gives none: the same answers as Redis's for this node's
// traffic (Observe exact and trimmed to max, Count bucketed, Once by at).
// Entries are dropped once the latest at has passed their end, in a sweep
// at most once a sweepEvery of at's time. Safe for concurrent use.
type localDetect struct {
	mu     sync.Mutex
	seen   map[string]*localSet
	counts map[string]*localCount
	claims map[string]time.Time // until
	latest time.Time
	swept  time.Time
}

type localSet struct {
	members []detect.Seen // most recently seen first
	end     time.Time
}

type localCount struct {
	buckets map[int64]int64
	end     time.Time
}

const sweepEvery = time.Minute

func newLocalDetect() *localDetect {
	return &localDetect{seen: map[string]*localSet{}, counts: map[string]*localCount{}, claims: map[string]time.Time{}}
}

// step notes an operation at at and sweeps what has ended, if it has not
// for sweepEvery. Call with mu held.
func (l *localDetect) step(at time.Time) {
	if at.After(l.latest) {
		l.latest = at
	}
	if l.latest.Sub(l.swept) < sweepEvery {
		return
	}
	l.swept = l.latest
	for k, s := range l.seen {
		if s.end.Before(l.latest) {
			delete(l.seen, k)
		}
	}
	for k, c := range l.counts {
		if c.end.Before(l.latest) {
			delete(l.counts, k)
		}
	}
	for k, u := range l.claims {
		if u.Before(l.latest) {
			delete(l.claims, k)
		}
	}
}

func (l *localDetect) Observe(_ context.Context, key, member string, at time.Time, window time.Duration, max int) ([]detect.Seen, error) {
	if window <= 0 || max <= 0 {
		return nil, errDetectArgs
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.step(at)
	s := l.seen[key]
	if s == nil {
		s = &localSet{}
		l.seen[key] = s
	}
	since := at.Add(-window)
	s.members = slices.DeleteFunc(s.members, func(m detect.Seen) bool { return m.Last.Before(since) })
	i := slices.IndexFunc(s.members, func(m detect.Seen) bool { return m.Member == member })
	if i < 0 {
		s.members = append(s.members, detect.Seen{Member: member, First: at, Last: at})
	} else {
		m := &s.members[i]
		if at.After(m.Last) {
			m.Last = at
		}
		if at.Before(m.First) {
			m.First = at
		}
	}
	slices.SortStableFunc(s.members, func(a, b detect.Seen) int {
		return cmp.Or(b.Last.Compare(a.Last), cmp.Compare(a.Member, b.Member))
	})
	if len(s.members) > max {
		s.members = s.members[:max]
	}
	if end := at.Add(window); end.After(s.end) {
		s.end = end
	}
	return slices.Clone(s.members), nil
}

func (l *localDetect) Count(_ context.Context, key string, at time.Time, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, errDetectArgs
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.step(at)
	c := l.counts[key]
	if c == nil {
		c = &localCount{buckets: map[int64]int64{}}
		l.counts[key] = c
	}
	b, from, _ := detect.CountBucket(at, window)
	c.buckets[b]++
	var n int64
	for k, v := range c.buckets {
		switch {
		case k < from:
			delete(c.buckets, k)
		case k <= b:
			n += v
		}
	}
	if end := at.Add(window); end.After(c.end) {
		c.end = end
	}
	return n, nil
}

func (l *localDetect) Once(_ context.Context, key string, at time.Time, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errDetectArgs
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.step(at)
	if u, ok := l.claims[key]; ok && at.Before(u) {
		return false, nil
	}
	l.claims[key] = at.Add(ttl)
	return true, nil
}
