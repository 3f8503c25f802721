package tokenstate

import (
	"sync"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// DefaultOpaqueCache is how many opaque access tokens' stored records a
// Service keeps when Config.OpaqueCache is 0.
const DefaultOpaqueCache = 100000

// opaqueCache keeps the stored records of opaque (tsa_) access tokens
// already read, so that introspecting or accepting one again costs a map
// lookup instead of a store read, as a JWT costs a cache lookup instead
// of a signature check (accesstoken.Cache).
//
// Only what never changes is cached: a stored access token is written once
// and deleted only after its expiry. What does change is checked on every
// use, cached or not: the expiry against the (injected) clock, the
// denylist the revocation follower keeps from the feed (a token revoked on
// any node is refused here as soon as this node's follower has seen it),
// and the session. So the cache can make a token cheaper, never make a
// revoked, denied or expired one active. A token found denied or expired is
// dropped. Bounded; safe for concurrent use.
type opaqueCache struct {
	size int

	mu sync.RWMutex
	m  map[token.Hash]*store.AccessToken
}

func newOpaqueCache(size int) *opaqueCache {
	return &opaqueCache{size: max(size, 1), m: make(map[token.Hash]*store.AccessToken)}
}

// get returns the record cached under h; shared, not to be modified.
func (c *opaqueCache) get(h token.Hash) (*store.AccessToken, bool) {
	c.mu.RLock()
	at, ok := c.m[h]
	c.mu.RUnlock()
	return at, ok
}

// put caches at, unless it has expired already.
func (c *opaqueCache) put(at *store.AccessToken, now time.Time) {
	if !now.Before(at.ExpiresAt) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.size {
		c.evictLocked(now)
	}
	c.m[at.Hash] = at
}

func (c *opaqueCache) drop(h token.Hash) {
	c.mu.Lock()
	delete(c.m, h)
	c.mu.Unlock()
}

// evictLocked makes room as accesstoken.Cache does: expired entries, then
// arbitrary ones down to 90% of size (one O(n) sweep per size/10 inserts).
// A dropped entry is only read from the store again.
func (c *opaqueCache) evictLocked(now time.Time) {
	for h, at := range c.m {
		if !now.Before(at.ExpiresAt) {
			delete(c.m, h)
		}
	}
	target := c.size * 9 / 10
	for h := range c.m {
		if len(c.m) <= target {
			break
		}
		delete(c.m, h)
	}
}

func (c *opaqueCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
