package redisstate

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tessera-auth/tessera/authn"
)

// Known is authn.KnownAddresses in Redis, shared by every node: per
// account a sorted set of (hashed) addresses scored by the last login's
// time, trimmed to authn.KnownPerAccount and expiring authn.KnownTTL after
// the last login. This node also remembers in memory, which answers alone
// while Redis is down.
type Known struct {
	c     *Client
	now   func() time.Time
	local *authn.MemoryKnown
}

var _ authn.KnownAddresses = (*Known)(nil)

// Known returns the shared list of known addresses. now is the clock (nil:
// time.Now).
func (c *Client) Known(now func() time.Time) *Known {
	if now == nil {
		now = time.Now
	}
	return &Known{c: c, now: now, local: authn.NewMemoryKnown(now)}
}

// Known reports whether ipKey logged into account within authn.KnownTTL,
// on any node.
func (k *Known) Known(ctx context.Context, account, ipKey string) bool {
	var seen float64
	var found bool
	if !k.c.try(ctx, useKnown, func(ctx context.Context) error {
		var err error
		seen, err = k.c.rdb.ZScore(ctx, k.c.key("known", account), k.c.hash(ipKey)).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		found = err == nil
		return err
	}) {
		return k.local.Known(ctx, account, ipKey)
	}
	if found && k.now().Sub(time.UnixMilli(int64(seen))) < authn.KnownTTL {
		return true
	}
	// Learned here during an outage, and so never written to Redis: only
	// a correct password puts an address on either list.
	return k.local.Known(ctx, account, ipKey)
}

// Remember records a successful login to account from ipKey.
func (k *Known) Remember(ctx context.Context, account, ipKey string) {
	k.local.Remember(ctx, account, ipKey)
	key, now := k.c.key("known", account), k.now()
	k.c.try(ctx, useKnown, func(ctx context.Context) error {
		_, err := k.c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, key, redis.Z{Score: float64(now.UnixMilli()), Member: k.c.hash(ipKey)})
			p.ZRemRangeByRank(ctx, key, 0, -authn.KnownPerAccount-1)
			p.PExpire(ctx, key, authn.KnownTTL)
			return nil
		})
		return err
	})
}
