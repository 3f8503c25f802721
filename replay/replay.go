// Package replay remembers single-use values (a TOTP code's time step, a
// DPoP proof's jti, RFC 9449 §11.1) until they expire, so that a second
// use is refused. Memory is this process's; a shared implementation
// (redisstate.Replay) serves a cluster of nodes.
package replay

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Cache records uses of keys.
type Cache interface {
	// Use records key as used for ttl and reports whether this is its
	// first use within ttl. It is atomic: of concurrent uses of one key,
	// exactly one is fresh. An error means the answer is unknown: a
	// caller guarding security MUST then refuse (fail closed), as if the
	// key had been seen, never accept. Keys should be namespaced by their
	// use ("totp:USER:STEP", "dpop:JTI").
	Use(ctx context.Context, key string, ttl time.Duration) (fresh bool, err error)
}

// ErrFull is returned by Memory when it holds its maximum of unexpired
// keys: forgetting one early would let it be replayed.
var ErrFull = errors.New("replay: cache full")

// ErrTTL is returned for a ttl that is not positive.
var ErrTTL = errors.New("replay: ttl must be positive")

// Memory is a Cache in this process's memory, bounded by a number of
// keys. Expired keys are dropped as new ones come. Safe for concurrent
// use.
type Memory struct {
	now func() time.Time
	max int

	mu    sync.Mutex
	keys  map[string]time.Time // key → expiry
	sweep time.Time
}

var _ Cache = (*Memory)(nil)

// NewMemory returns an empty cache of at most max keys (0: 1,000,000).
// now is the clock (nil: time.Now).
func NewMemory(max int, now func() time.Time) *Memory {
	if max <= 0 {
		max = 1000000
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, max: max, keys: map[string]time.Time{}}
}

// Use records key as used until ttl from now.
func (m *Memory) Use(_ context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, ErrTTL
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.keys[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(m.keys) >= m.max || now.Sub(m.sweep) >= time.Minute {
		m.sweep = now
		for k, exp := range m.keys {
			if !now.Before(exp) {
				delete(m.keys, k)
			}
		}
		if len(m.keys) >= m.max {
			return false, ErrFull
		}
	}
	m.keys[key] = now.Add(ttl)
	return true, nil
}

// Len returns the number of keys held, expired ones included until swept.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}
