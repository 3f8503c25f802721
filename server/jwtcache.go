package server

import (
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
)

// verifiedTokens puts the shared accesstoken.Cache in front of the
// server's access-token verifier: a token presented again costs a SHA-256
// instead of a signature check. A cached entry answers only until the
// token's exp, whatever the verifier's leeway. The denylist and the session
// are checked on every use. Safe for concurrent use.
type verifiedTokens struct {
	cache *accesstoken.Cache
	// jwks returns the keyset the verifier's keys come from (empty: not
	// watched). When a key leaves it, the cache is purged.
	jwks func() jose.JSONWebKeySet
	seen atomic.Pointer[jose.JSONWebKey] // first key of the set last given to cache.KeySet
}

func newVerifiedTokens(max int, jwks func() jose.JSONWebKeySet) *verifiedTokens {
	return &verifiedTokens{cache: accesstoken.NewCache(max, 0), jwks: jwks}
}

// verify returns the claims of raw, from the cache or from v.
func (c *verifiedTokens) verify(v *accesstoken.Verifier, raw string, now time.Time) (*accesstoken.Claims, error) {
	c.watchKeys()
	k := accesstoken.KeyOf(raw)
	if claims, _ := c.cache.Get(k, now); claims != nil {
		return claims, nil
	}
	// A cached entry past exp is not an answer here: within the verifier's
	// leeway the token still verifies (and is then not cached).
	gen := c.cache.Generation()
	claims, err := v.Verify(raw)
	if err != nil {
		return claims, err
	}
	c.cache.Put(k, claims, gen, now)
	return claims, nil
}

// watchKeys tells the cache the current key set whenever the keyset has
// been reloaded (each reload builds a new slice, so comparing its first
// element's address is enough to notice one without walking the set on
// every request).
func (c *verifiedTokens) watchKeys() {
	if c.jwks == nil {
		return
	}
	set := c.jwks()
	if len(set.Keys) == 0 || c.seen.Load() == &set.Keys[0] {
		return
	}
	kids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		kids[i] = k.KeyID
	}
	c.cache.KeySet(kids)
	c.seen.Store(&set.Keys[0])
}
