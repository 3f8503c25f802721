package throttle

import (
	"context"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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

	mu      sync.RWMutex
	buckets map[string]*bucket
	// drained counts the tracked buckets, so Blocked answers a limiter no
	// failure has touched with one atomic load (it runs on hot paths).
	drained atomic.Int64
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

// Allow reports whether an attempt for key may proceed: whether its
// bucket still holds a token. It takes none; a failed attempt then takes
// one with Fail. Attempts in flight take nothing, so a crowd of correct
// logins behind one address (an office behind NAT) is never refused
// because of each other: only failures drain the bucket.
//
// The price is that attempts admitted together while one token is left
// may all fail; Fail then puts the bucket in debt (below zero), and the
// key waits for the refill of every one of them. How many can be in
// flight at once is bounded elsewhere (the hashing queue), not here.
// If the bucket is empty Allow returns false and how long until a token
// is back. ctx is unused: it is there for limiters shared between nodes
// (authn.Limiter), which answer over a network.
func (l *Limiter) Allow(_ context.Context, key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return true, 0 // a full bucket is not tracked
	}
	l.level(b, now)
	if b.tokens < 1 {
		return false, RetryAfter(time.Duration((1 - b.tokens) * float64(l.refill)))
	}
	return true, 0
}

// RetryAfter is how a wait for the next token is told to a client (HTTP
// Retry-After has whole seconds): rounded to the second, at least one.
func RetryAfter(wait time.Duration) time.Duration {
	return max(wait, time.Second).Round(time.Second)
}

// Fail takes one token for key: an attempt failed. ctx is unused, as for
// Allow.
func (l *Limiter) Fail(_ context.Context, key string) {
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
		l.drained.Store(int64(len(l.buckets)))
	}
	l.level(b, now)
	b.tokens--
}

// Spend is Allow and Fail in one step, under one lock: it takes a token
// for key only if one is left, so concurrent callers never overdraw the
// bucket, and exactly one of them sees it emptied. spent is whether it
// took one; empty whether the bucket now holds less than one token, and if
// so retryAfter is how long until one is back. For callers that count a
// failure after the fact and must not count failures that raced a
// refusal (package probe), or that spend a token on every attempt.
func (l *Limiter) Spend(_ context.Context, key string) (spent, empty bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b != nil {
		l.level(b, now)
		if b.tokens < 1 {
			return false, true, RetryAfter(time.Duration((1 - b.tokens) * float64(l.refill)))
		}
	} else {
		if len(l.buckets) >= l.maxKeys {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
		l.drained.Store(int64(len(l.buckets)))
	}
	b.tokens--
	if b.tokens < 1 {
		return true, true, RetryAfter(time.Duration((1 - b.tokens) * float64(l.refill)))
	}
	return true, false, 0
}

// Blocked reports, without taking anything, whether key has no attempt
// left, and if so how long until it will. For callers that drain a bucket
// only after a failure (Fail once the attempt failed) rather than reserving
// before it: the success path then costs a read.
func (l *Limiter) Blocked(key string) (blocked bool, retryAfter time.Duration) {
	if l.drained.Load() == 0 {
		return false, 0
	}
	now := l.now()
	l.mu.RLock()
	b := l.buckets[key]
	var tokens float64
	if b != nil {
		tokens = min(l.burst, b.tokens+float64(max(now.Sub(b.at), 0))/float64(l.refill))
	}
	l.mu.RUnlock()
	if b == nil || tokens >= 1 {
		return false, 0
	}
	return true, RetryAfter(time.Duration((1 - tokens) * float64(l.refill)))
}

// Idle reports whether no failure is on record (every key's bucket is
// full): a hot path may then skip computing keys at all.
func (l *Limiter) Idle() bool { return l.drained.Load() == 0 }

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
	defer func() { l.drained.Store(int64(len(l.buckets))) }()
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

// Reset forgets key's failures: its bucket is full again. (The context is
// for shared limiters, which reset over the network.)
func (l *Limiter) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, key)
	return nil
}

// ResetPrefix forgets the failures of every key that starts with prefix.
func (l *Limiter) ResetPrefix(_ context.Context, prefix string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := range l.buckets {
		if strings.HasPrefix(k, prefix) {
			delete(l.buckets, k)
		}
	}
	return nil
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
