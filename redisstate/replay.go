package redisstate

import (
	"context"
	"fmt"
	"time"

	"github.com/tessera-auth/tessera/replay"
)

// Replay is a replay.Cache in Redis, shared by every node: SET NX PX, so
// that of every node's uses of a key exactly one is fresh. It has no
// fallback: while Redis is down Use returns an error (ErrDown at once
// once the outage is known), and callers guarding security refuse, as
// replay.Cache requires. A per-node fallback would accept on one node what
// another already accepted.
type Replay struct {
	c *Client
}

var _ replay.Cache = (*Replay)(nil)

// Replay returns the shared replay cache.
func (c *Client) Replay() *Replay { return &Replay{c: c} }

// Use records key as used for ttl and reports whether this is its first
// use on any node.
func (r *Replay) Use(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, replay.ErrTTL
	}
	if !r.c.Up() {
		return false, ErrDown
	}
	fresh, err := r.c.rdb.SetNX(ctx, r.c.key("replay", key), 1, ttl).Result()
	if err != nil {
		if ctx.Err() == nil {
			r.c.failed("replay", err)
		}
		return false, fmt.Errorf("redisstate: replay cache: %w", err)
	}
	return fresh, nil
}
