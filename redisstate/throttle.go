package redisstate

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/throttle"
)

// A bucket is a hash {t: tokens, at: unix µs of t} that lives only while
// it is not full: a full bucket carries no information, so a bucket
// expires when it would have refilled, and a missing one is full. Only a
// failure writes it. Times are the callers' clocks (the nodes' clocks,
// kept by NTP): a caller behind the last writer refills nothing rather
// than moving the bucket back. Each script touches one key, so it runs on
// a Redis Cluster too.
//
// KEYS[1] bucket; ARGV burst, refill (µs per token), now (unix µs).
const bucketLevel = `
local burst, refill, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(v[1]), tonumber(v[2])
if tokens == nil or at == nil then tokens, at = burst, now end
if now > at then
  tokens = math.min(burst, tokens + (now - at) / refill)
  at = now
end
`

// allowScript returns {1, 0} while the bucket holds a token, or {0, µs
// until it will}. It takes none and writes nothing.
var allowScript = redis.NewScript(bucketLevel + `
if tokens < 1 then
  return {0, math.ceil((1 - tokens) * refill)}
end
return {1, 0}
`)

// failScript takes one token: an attempt failed. The bucket may go into
// debt (below zero) when attempts admitted together all fail; the key
// then waits for the refill of every one of them, as in throttle.Limiter.
var failScript = redis.NewScript(bucketLevel + `
tokens = tokens - 1
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * refill / 1000) + 1000)
return 1
`)

// Limiter is an authn.Limiter whose buckets are in Redis, shared by every
// node. It also keeps this node's own count of failures in a
// *throttle.Limiter, which answers alone while Redis is down: throttling
// then holds per node, with the node's recent failures already counted.
type Limiter struct {
	c      *Client
	name   string
	burst  int
	refill time.Duration
	now    func() time.Time
	local  *throttle.Limiter
}

var _ authn.Limiter = (*Limiter)(nil)

// Limiter returns the shared limiter called name (such as "ip"), allowing
// burst failures per key and regaining one every refill. now is the clock
// (nil: time.Now).
func (c *Client) Limiter(name string, burst int, refill time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{c: c, name: name, burst: burst, refill: refill, now: now, local: throttle.New(burst, refill, now)}
}

func (l *Limiter) args() []any {
	return []any{l.burst, l.refill.Microseconds(), l.now().UnixMicro()}
}

// Allow reports whether an attempt for key may proceed, across the
// cluster: whether its bucket holds a token. It takes none.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration) {
	var res []int64
	if !l.c.try(ctx, useThrottle, func(ctx context.Context) error {
		var err error
		res, err = allowScript.Run(ctx, l.c.rdb, []string{l.c.key("login:"+l.name, key)}, l.args()...).Int64Slice()
		return err
	}) {
		return l.local.Allow(ctx, key)
	}
	if len(res) != 2 || res[0] != 1 {
		var wait int64
		if len(res) == 2 {
			wait = res[1]
		}
		return false, throttle.RetryAfter(time.Duration(wait) * time.Microsecond)
	}
	return true, 0
}

// Fail takes one token for key, across the cluster and in this node's own
// count (for an outage).
func (l *Limiter) Fail(ctx context.Context, key string) {
	l.local.Fail(ctx, key)
	l.c.try(ctx, useThrottle, func(ctx context.Context) error {
		return failScript.Run(ctx, l.c.rdb, []string{l.c.key("login:"+l.name, key)}, l.args()...).Err()
	})
}
