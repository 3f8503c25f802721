package server

import (
	"crypto/sha256"
	"hash"
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

// verify returns the claims of raw, from the cache or from v. A cached
// token is returned only while now is before its exp.
func (c *verifiedTokens) verify(v *accesstoken.Verifier, raw string, now time.Time) (*accesstoken.Claims, error) {
	k := tokenKey(raw)
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
	if err != nil || now.Unix() >= claims.Expiry {
		// Within the verifier's leeway past exp: valid, but not worth keeping.
		return claims, err
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

// keyHasher hashes a string without the heap copy that []byte(s) makes
// (a JWT is ~600 bytes: the copy cost as much as the hash).
type keyHasher struct {
	h   hash.Hash
	buf [512]byte
	sum [sha256.Size]byte
}

var keyHashers = sync.Pool{New: func() any { return &keyHasher{h: sha256.New()} }}

// tokenKey is SHA-256(raw), the cache key of a token.
func tokenKey(raw string) [sha256.Size]byte {
	kh := keyHashers.Get().(*keyHasher)
	kh.h.Reset()
	for len(raw) > 0 {
		n := copy(kh.buf[:], raw)
		kh.h.Write(kh.buf[:n])
		raw = raw[n:]
	}
	kh.h.Sum(kh.sum[:0])
	k := kh.sum
	keyHashers.Put(kh)
	return k
}
