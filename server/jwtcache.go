package server

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
)

// verifiedTokens remembers access tokens whose signature and claims were
// verified, until they expire, so a token presented again costs a SHA-256
// instead of a signature check (ES256 verification is most of the cost of
// introspecting a JWT). Only the verification is cached: the denylist and
// the session are checked on every use. Bounded; safe for concurrent use.
type verifiedTokens struct {
	max int

	mu sync.RWMutex
	m  map[[32]byte]*accesstoken.Claims
}

func newVerifiedTokens(max int) *verifiedTokens {
	return &verifiedTokens{max: max, m: make(map[[32]byte]*accesstoken.Claims)}
}

// verify returns the claims of raw, from the cache or from v.
func (c *verifiedTokens) verify(v *accesstoken.Verifier, raw string, now time.Time) (*accesstoken.Claims, error) {
	k := sha256.Sum256([]byte(raw))
	c.mu.RLock()
	claims := c.m[k]
	c.mu.RUnlock()
	if claims != nil {
		if now.Unix() < claims.Expiry {
			return claims, nil
		}
		c.mu.Lock()
		delete(c.m, k)
		c.mu.Unlock()
	}
	claims, err := v.Verify(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		for old := range c.m { // drop an arbitrary entry: it is only a cache
			delete(c.m, old)
			break
		}
	}
	c.m[k] = claims
	c.mu.Unlock()
	return claims, nil
}
