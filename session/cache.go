package session

import (
	"sync"
	"sync/atomic"

	"github.com/tessera-auth/tessera/token"
)

// entry is a cached live session: only what validation and whoami need, so a
// cached session costs a few hundred bytes.
type entry struct {
	id, userID, username string
	csrf                 string
	amr                  []string
	aal                  int
	stepUp               bool  // the session carries a step-up mark
	created, authTime    int64 // unix nanoseconds
	expires              int64
	idle                 int64        // this session's idle timeout, nanoseconds
	lastSeen             atomic.Int64 // as this node saw it
	lastWritten          atomic.Int64 // last-seen time last queued for the store
}

// cache maps token hashes to live sessions. Revocation consistency rests on
// gen: every eviction bumps it, and a fill that read the store before an
// eviction is not inserted after it, so a revoked session cannot be put back
// by a slow concurrent lookup.
type cache struct {
	max int

	mu     sync.RWMutex
	byHash map[token.Hash]*entry
	byID   map[string]token.Hash
	gen    uint64
}

func newCache(max int) *cache {
	return &cache{
		max:    max,
		byHash: make(map[token.Hash]*entry),
		byID:   make(map[string]token.Hash),
	}
}

func (c *cache) get(h token.Hash) *entry {
	c.mu.RLock()
	e := c.byHash[h]
	c.mu.RUnlock()
	return e
}

// generation returns the eviction counter a later insert must match.
func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// insert adds e unless an eviction happened since gen was read.
func (c *cache) insert(h token.Hash, e *entry, gen uint64) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if _, ok := c.byHash[h]; !ok && len(c.byHash) >= c.max {
		// Map iteration starts at a random place: this drops an arbitrary
		// entry, which a later request reloads from the store.
		for oh, old := range c.byHash {
			delete(c.byHash, oh)
			delete(c.byID, old.id)
			break
		}
	}
	c.byHash[h] = e
	c.byID[e.id] = h
}

// evict drops the session with the given ID, if cached, and bumps gen
// either way.
func (c *cache) evict(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, id := range ids {
		if h, ok := c.byID[id]; ok {
			delete(c.byHash, h)
			delete(c.byID, id)
		}
	}
}

// drop removes one entry without bumping gen: for entries found expired.
func (c *cache) drop(h token.Hash, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byHash[h] == e {
		delete(c.byHash, h)
		delete(c.byID, e.id)
	}
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byHash)
}

func (c *cache) evictAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.byHash)
	clear(c.byID)
}

// each calls fn for every cached entry, under the read lock.
func (c *cache) each(fn func(*entry)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, e := range c.byHash {
		fn(e)
	}
}

func (c *cache) getByID(id string) (token.Hash, *entry) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h, ok := c.byID[id]
	if !ok {
		return token.Hash{}, nil
	}
	return h, c.byHash[h]
}
