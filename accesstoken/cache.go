package accesstoken

import (
	"crypto/sha256"
	"hash"
	"sync"
	"sync/atomic"
	"time"
)

// Cache remembers access tokens whose signature and claims were verified,
// until they expire, so that a token presented again costs a SHA-256
// instead of a signature check (ES256 verification is most of the cost of
// introspecting or accepting a JWT). Only the verification is cached:
// revocation, the session and scope are the caller's to check on every use.
// The server and the SDK share it. Bounded; safe for concurrent use.
//
// A verification runs as: k := KeyOf(raw); Get(k, now); on a miss,
// gen := Generation(), verify, Put(k, claims, gen, now). When a signing key
// leaves the key set (retired, or pulled after a compromise), KeySet
// empties the cache and bumps the generation, so that a verification that
// raced the removal cannot put back what the key signed.
type Cache struct {
	size   int
	leeway time.Duration

	mu   sync.RWMutex
	m    map[CacheKey]cacheEntry
	kids map[string]bool // the key set KeySet last saw; guarded by mu
	gen  atomic.Uint64   // written under mu
}

type cacheEntry struct {
	claims   *Claims
	deadline time.Time // exp + leeway: the instant the entry stops answering
}

// CacheKey is the SHA-256 of a token: the cache never holds a token.
type CacheKey [sha256.Size]byte

// NewCache returns a cache of at most size tokens. An entry answers while
// now is before the token's exp plus leeway: a verifier that tolerates clock
// skew past exp passes its Leeway; 0 stops answering at exp exactly.
func NewCache(size int, leeway time.Duration) *Cache {
	return &Cache{size: max(size, 1), leeway: leeway, m: make(map[CacheKey]cacheEntry)}
}

// Get returns the claims cached under k if now is before their deadline.
// expired reports an entry found past its deadline: the token is expired
// whatever a verification would say, and the caller may answer so at once.
// The claims are shared: do not modify them.
func (c *Cache) Get(k CacheKey, now time.Time) (claims *Claims, expired bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if !now.Before(e.deadline) {
		return nil, true
	}
	return e.claims, false
}

// Generation returns the stamp a verification takes before it starts and
// hands to Put.
func (c *Cache) Generation() uint64 { return c.gen.Load() }

// Put caches claims verified since gen was taken. It keeps nothing if a
// key left the key set meanwhile (the token may have been checked with that
// key, and the cache was just emptied of what such keys signed), or if the
// deadline has already passed (valid within a verifier's leeway, but not
// worth keeping).
func (c *Cache) Put(k CacheKey, claims *Claims, gen uint64, now time.Time) {
	e := cacheEntry{claims: claims, deadline: time.Unix(claims.Expiry, 0).Add(c.leeway)}
	if !now.Before(e.deadline) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if len(c.m) >= c.size {
		c.evictLocked(now)
	}
	c.m[k] = e
}

// evictLocked makes room: it drops expired entries, then arbitrary ones
// (map order is unspecified) down to 90% of size, so the O(n) sweep is paid
// once per size/10 inserts, not on every insert. A dropped entry is only
// verified again, never wrongly accepted.
func (c *Cache) evictLocked(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.deadline) {
			delete(c.m, k)
		}
	}
	target := c.size * 9 / 10
	for k := range c.m {
		if len(c.m) <= target {
			break
		}
		delete(c.m, k)
	}
}

// KeySet tells the cache the key ids of the key set now in use. If a key
// id it was told about before is missing, the cache is purged (see Purge).
// The first call only records the set.
func (c *Cache) KeySet(kids []string) {
	now := make(map[string]bool, len(kids))
	for _, kid := range kids {
		now[kid] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for kid := range c.kids {
		if !now[kid] {
			c.purgeLocked()
			break
		}
	}
	c.kids = now
}

// Purge empties the cache and refuses every Put of a verification that
// began before it: tokens must be verified again, not served from cache.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.purgeLocked()
}

func (c *Cache) purgeLocked() {
	c.gen.Add(1)
	clear(c.m)
}

// Len returns how many tokens are cached (for metrics and tests).
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// keyHasher hashes a string without the heap copy that []byte(s) makes
// (a JWT is ~600 bytes: the copy cost as much as the hash).
type keyHasher struct {
	h   hash.Hash
	buf [512]byte
	sum [sha256.Size]byte
}

var keyHashers = sync.Pool{New: func() any { return &keyHasher{h: sha256.New()} }}

// KeyOf returns SHA-256(raw), the cache key of a token.
func KeyOf(raw string) CacheKey {
	kh := keyHashers.Get().(*keyHasher)
	kh.h.Reset()
	for len(raw) > 0 {
		n := copy(kh.buf[:], raw)
		kh.h.Write(kh.buf[:n])
		raw = raw[n:]
	}
	kh.h.Sum(kh.sum[:0])
	k := CacheKey(kh.sum)
	keyHashers.Put(kh)
	return k
}
