package detect

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is a State in this process: for a single node, and for tests.
// It holds at most max keys; when full, it first forgets every key whose
// window has passed by its clock, then, if still full, an arbitrary
// sixteenth of the keys (so a flood of new keys costs each insert O(16),
// not a scan of the whole map). Safe for concurrent use.
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
	return m.len()
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
	if m.len() < m.max {
		return
	}
	now := m.now()
	for k, s := range m.sets {
		if !s.expires.After(now) {
			delete(m.sets, k)
		}
	}
	for k, c := range m.counts {
		if !c.expires.After(now) {
			delete(m.counts, k)
		}
	}
	for k, end := range m.claims {
		if !end.After(now) {
			delete(m.claims, k)
		}
	}
	// Still full: forget a sixteenth, whichever keys map order gives.
	for n := m.len() - m.max + 1 + m.max/16; n > 0 && m.len() > 0; {
		for k := range m.sets {
			if n <= 0 {
				break
			}
			delete(m.sets, k)
			n--
		}
		for k := range m.counts {
			if n <= 0 {
				break
			}
			delete(m.counts, k)
			n--
		}
		for k := range m.claims {
			if n <= 0 {
				break
			}
			delete(m.claims, k)
			n--
		}
	}
}

func (m *Memory) len() int { return len(m.sets) + len(m.counts) + len(m.claims) }
