package redisstate

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/throttle"
)

// A bucket is a hash {t: tokens, at: unix µs of t} that lives only while
// it is not full: a full bucket carries no information, so it is deleted,
// and its expiry is the time it takes to refill. Times are the callers'
// clocks (the nodes' clocks, kept by NTP): a caller behind the last
// writer refills nothing rather than moving the bucket back. Each script
// touches one key, so it runs on a Redis Cluster too.
//
// KEYS[1] bucket; ARGV burst, refill (µs per token), now (unix µs).
const bucketLevel = `
local burst, refill, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(v[1]), tonumber(v[2])
local existed = tokens ~= nil and at ~= nil
if not existed then tokens, at = burst, now end
if now > at then
  tokens = math.min(burst, tokens + (now - at) / refill)
  at = now
end
local function save()
  if tokens >= burst then
    redis.call('DEL', KEYS[1])
    return
  end
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'at', string.format('%d', at))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * refill / 1000) + 1000)
end
`

// takeScript returns {1, 0} with a token taken, or {0, µs until one}.
var takeScript = redis.NewScript(bucketLevel + `
if tokens < 1 then
  return {0, math.ceil((1 - tokens) * refill)}
end
tokens = tokens - 1
save()
return {1, 0}
`)

// refundScript gives a token back (a missing bucket is full already).
var refundScript = redis.NewScript(bucketLevel + `
if not existed then return 0 end
tokens = math.min(burst, tokens + 1)
save()
return 1
`)

// Limiter is an authn.Limiter whose buckets are in Redis, shared by every
// node. It also keeps this node's own count in a *throttle.Limiter, which
// answers alone while Redis is down: throttling then holds per node, with
// the node's recent failures already counted.
//
// A token taken on one side of an outage's edge and refunded on the other
// is refunded where the refund goes: at most one extra attempt, and a
// refund follows only a correct password (or a store error).
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

// Take reserves one attempt for key, across the cluster.
func (l *Limiter) Take(ctx context.Context, key string) (bool, time.Duration) {
	var res []int64
	if !l.c.try(ctx, useThrottle, func(ctx context.Context) error {
		var err error
		res, err = takeScript.Run(ctx, l.c.rdb, []string{l.c.key("login:"+l.name, key)}, l.args()...).Int64Slice()
		return err
	}) {
		return l.local.Take(ctx, key)
	}
	if len(res) != 2 || res[0] != 1 {
		var wait int64
		if len(res) == 2 {
			wait = res[1]
		}
		return false, throttle.RetryAfter(time.Duration(wait) * time.Microsecond)
	}
	l.local.Take(ctx, key) // this node's count, for an outage
	return true, 0
}

// Refund gives back a token taken for key.
func (l *Limiter) Refund(ctx context.Context, key string) {
	l.local.Refund(ctx, key)
	l.c.try(ctx, useThrottle, func(ctx context.Context) error {
		return refundScript.Run(ctx, l.c.rdb, []string{l.c.key("login:"+l.name, key)}, l.args()...).Err()
	})
}
