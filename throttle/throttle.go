package throttle

import (
	"context"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// Limiter is a set of token buckets, one per key, all with the same burst and
// refill period. Safe for concurrent use. Memory is bounded by MaxKeys: a full
// bucket carries no information, so full buckets are dropped first.
type Limiter struct {
	burst   float64
	refill  time.Duration // time to regain one token
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter allowing burst failures per key, regaining one every
// refill. now is the clock (time.Now in production).
func New(burst int, refill time.Duration, now func() time.Time) *Limiter {
	return &Limiter{
		burst:   float64(burst),
		refill:  refill,
		now:     now,
		maxKeys: 100000,
		buckets: make(map[string]*bucket),
	}
}

// level brings b up to date. Callers hold mu.
func (l *Limiter) level(b *bucket, now time.Time) {
	if el := now.Sub(b.at); el > 0 {
		b.tokens = min(l.burst, b.tokens+float64(el)/float64(l.refill))
		b.at = now
	}
}

// Take reserves one attempt for key. If none is left it returns false and how
// long until one will be. A caller whose attempt then succeeds gives the
// token back with Refund, so only failures drain the bucket. ctx is unused:
// it is there for limiters shared between nodes, which answer over a network.
func (l *Limiter) Take(_ context.Context, key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	l.level(b, now)
	if b.tokens < 1 {
		return false, RetryAfter(time.Duration((1 - b.tokens) * float64(l.refill)))
	}
	b.tokens--
	return true, 0
}

// RetryAfter is how a wait for the next token is told to a client (HTTP
// Retry-After has whole seconds): rounded to the second, at least one.
func RetryAfter(wait time.Duration) time.Duration {
	return max(wait, time.Second).Round(time.Second)
}

// Refund returns a token taken for key.
func (l *Limiter) Refund(_ context.Context, key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.buckets[key]; b != nil {
		l.level(b, now)
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// prune drops full buckets, which carry no information. If the map is
// still at its bound it drops the fullest remaining buckets, so a flood of
// fresh keys (each one failure deep) cannot flush a drained bucket and free
// the key an attacker is throttled on. Callers hold mu.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		l.level(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
	target := l.maxKeys * 9 / 10
	if len(l.buckets) <= target {
		return
	}
	type kv struct {
		k string
		t float64
	}
	all := make([]kv, 0, len(l.buckets))
	for k, b := range l.buckets {
		all = append(all, kv{k, b.tokens})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].t > all[j].t })
	for _, x := range all[:len(all)-target] {
		delete(l.buckets, x.k)
	}
}

// Len returns the number of tracked keys.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// IPKey groups addresses the way one attacker holds them: an IPv4 address
// alone, an IPv6 address by its /64, since one host is usually given a
// whole /64.
func IPKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
