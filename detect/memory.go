package detect

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is a State in this process: for a single node, and for tests.
// It holds at most Max keys; when full, it first forgets every key whose
// window has passed by its clock, then, if still full, the key that would
// have expired soonest. Safe for concurrent use.
//
// Count is bucketed: a window is counted in countBuckets buckets, so a
// count may include events up to window/countBuckets older than the
// window (never fewer than the window holds).
type Memory struct {
	max int
	now func() time.Time

	mu     sync.Mutex
	sets   map[string]*memSet
	counts map[string]*memCount
	claims map[string]time.Time // key → end of its claim
}

// countBuckets is how finely Memory's Count divides a window.
const countBuckets = 16

type memSet struct {
	members map[string]*Seen
	expires time.Time // the latest Last + window
}

type memCount struct {
	width   time.Duration
	buckets []bucket // oldest first
	expires time.Time
}

type bucket struct {
	start time.Time
	n     int64
}

// NewMemory returns a Memory of at most max keys (0: 100000) whose
// clock, used only to forget old keys when full, is now (nil: time.Now).
func NewMemory(max int, now func() time.Time) *Memory {
	if max <= 0 {
		max = 100_000
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{max: max, now: now, sets: map[string]*memSet{}, counts: map[string]*memCount{}, claims: map[string]time.Time{}}
}

// Len returns how many keys m holds.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sets) + len(m.counts) + len(m.claims)
}

// Observe implements State. A key keeps at most max members: past that
// it forgets the least recently seen, which then counts as new if seen
// again.
func (m *Memory) Observe(_ context.Context, key, member string, at time.Time, window time.Duration, max int) ([]Seen, error) {
	if max <= 0 {
		max = 1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sets[key]
	if s == nil {
		m.room()
		s = &memSet{members: map[string]*Seen{}}
		m.sets[key] = s
	}
	cut := at.Add(-window)
	for k, v := range s.members {
		if v.Last.Before(cut) {
			delete(s.members, k)
		}
	}
	if v := s.members[member]; v != nil {
		if at.After(v.Last) {
			v.Last = at
		}
		if at.Before(v.First) {
			v.First = at
		}
	} else {
		s.members[member] = &Seen{Member: member, First: at, Last: at}
	}
	out := make([]Seen, 0, len(s.members))
	for _, v := range s.members {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b Seen) int {
		if c := b.Last.Compare(a.Last); c != 0 {
			return c
		}
		return compareStrings(a.Member, b.Member)
	})
	if len(out) > max {
		for _, v := range out[max:] {
			delete(s.members, v.Member)
		}
		out = out[:max]
	}
	if e := out[0].Last.Add(window); e.After(s.expires) {
		s.expires = e
	}
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Count implements State, bucketed (see Memory).
func (m *Memory) Count(_ context.Context, key string, at time.Time, window time.Duration) (int64, error) {
	width := max(window/countBuckets, time.Nanosecond)
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counts[key]
	if c == nil || c.width != width {
		if c == nil {
			m.room()
		}
		c = &memCount{width: width}
		m.counts[key] = c
	}
	start := at.Truncate(width)
	// Add to at's bucket: the last one, or a new one after it; a use
	// older than the last bucket (another node's, late) joins the last.
	if n := len(c.buckets); n > 0 && !start.After(c.buckets[n-1].start) {
		c.buckets[n-1].n++
	} else {
		c.buckets = append(c.buckets, bucket{start: start, n: 1})
	}
	cut := at.Add(-window)
	i := 0
	for i < len(c.buckets) && !c.buckets[i].start.Add(width).After(cut) {
		i++
	}
	c.buckets = c.buckets[i:]
	var total int64
	for _, b := range c.buckets {
		total += b.n
	}
	if e := at.Add(window); e.After(c.expires) {
		c.expires = e
	}
	return total, nil
}

// Once implements State.
func (m *Memory) Once(_ context.Context, key string, at time.Time, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	end, ok := m.claims[key]
	if ok && at.Before(end) {
		return false, nil
	}
	if !ok {
		m.room()
	}
	m.claims[key] = at.Add(ttl)
	return true, nil
}

// room makes room for one more key (m.mu held).
func (m *Memory) room() {
	if len(m.sets)+len(m.counts)+len(m.claims) < m.max {
		return
	}
	now := m.now()
	soonest, kind, key := time.Time{}, 0, ""
	consider := func(k int, name string, exp time.Time) bool {
		if !exp.After(now) {
			return true
		}
		if key == "" || exp.Before(soonest) {
			soonest, kind, key = exp, k, name
		}
		return false
	}
	for k, s := range m.sets {
		if consider(1, k, s.expires) {
			delete(m.sets, k)
		}
	}
	for k, c := range m.counts {
		if consider(2, k, c.expires) {
			delete(m.counts, k)
		}
	}
	for k, end := range m.claims {
		if consider(3, k, end) {
			delete(m.claims, k)
		}
	}
	if len(m.sets)+len(m.counts)+len(m.claims) < m.max {
		return
	}
	switch kind {
	case 1:
		delete(m.sets, key)
	case 2:
		delete(m.counts, key)
	case 3:
		delete(m.claims, key)
	}
}
