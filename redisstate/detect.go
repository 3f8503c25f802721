package redisstate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tessera-auth/tessera/detect"
)

// Detection state. Times are the callers' (unix µs, as script arguments):
// every expiry is decided by the at of the call, so that nodes and tests
// agree on it whatever Redis's own clock says. Redis's TTLs only collect
// the garbage, detectSlack after at would have, so an event evaluated a
// little late (detection runs off the request path) still finds its
// state. Each script touches one key, or two with one hash tag, so it
// runs on a Redis Cluster too.

// detectSlack is how much longer than at needs them Redis keeps entries.
const detectSlack = 5 * time.Minute

// observeScript: KEYS[1] a sorted set of members scored by their last
// sighting, KEYS[2] a hash of their first sightings (one hash tag: one
// slot). ARGV member, at, since, max, gc ms. It returns {member, first,
// last, …}, most recently seen first.
var observeScript = redis.NewScript(`
local member, at, since, max = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. since)
for _, m in ipairs(gone) do redis.call('HDEL', KEYS[2], m) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. since)
local last = tonumber(redis.call('ZSCORE', KEYS[1], member))
if last == nil or at > last then redis.call('ZADD', KEYS[1], ARGV[2], member) end
local first = tonumber(redis.call('HGET', KEYS[2], member))
if last == nil or first == nil or at < first then redis.call('HSET', KEYS[2], member, ARGV[2]) end
local extra = redis.call('ZRANGE', KEYS[1], 0, -max - 1)
if #extra > 0 then
  for _, m in ipairs(extra) do redis.call('HDEL', KEYS[2], m) end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -max - 1)
end
local kept = redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local out = {}
for i = 1, #kept, 2 do
  out[#out + 1] = kept[i]
  out[#out + 1] = redis.call('HGET', KEYS[2], kept[i]) or kept[i + 1]
  out[#out + 1] = kept[i + 1]
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return out
`)

// countScript: KEYS[1] a hash of buckets (detect.CountBucket) to counts.
// ARGV bucket, from, gc ms. It adds one to bucket, drops the buckets
// before from, and returns the sum from from to bucket.
var countScript = redis.NewScript(`
local b, from = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  local k = tonumber(all[i])
  if k < from then
    redis.call('HDEL', KEYS[1], all[i])
  elseif k <= b then
    n = n + tonumber(all[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return n
`)

// onceScript: KEYS[1] the claim, holding the unix µs it ends at. ARGV at,
// until, gc ms. It claims and returns 1 unless a claim holds at at.
var onceScript = redis.NewScript(`
local u = tonumber(redis.call('GET', KEYS[1]))
if u ~= nil and tonumber(ARGV[1]) < u then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// Detect is a detect.State in Redis, shared by every node. Observe is
// exact, trimmed to the max most recently seen members of a key; Count is
// bucketed (detect.CountBucket: it never counts an event older than the
// window, and may miss those of its oldest tenth); Once holds a claim
// until at has passed it. Key names are keyed hashes of the rules' keys;
// members are stored as given.
//
// While Redis is down each operation goes to the node's own state (local)
// instead, logged once and counted (tessera_redis_fallback_total
// {use="detect_state"}): rules then see this node's traffic since the
// outage began, and a claim made during it may be made again on another
// node. When Redis answers again, rules use it again, with what it held.
// Safe for concurrent use.
type Detect struct {
	c     *Client
	local detect.State
}

var _ detect.State = (*Detect)(nil)

// Detect returns the shared detection state, falling back to local while
// Redis is down (nil: a detect.Memory of its own).
func (c *Client) Detect(local detect.State) *Detect {
	if local == nil {
		local = detect.NewMemory(0, nil)
	}
	return &Detect{c: c, local: local}
}

// errDetectArgs is a caller's mistake: a window, ttl or max that is not
// positive.
var errDetectArgs = errors.New("redisstate: window, ttl and max must be positive")

func gcMillis(d time.Duration) int64 { return (d + detectSlack).Milliseconds() }

func (d *Detect) Observe(ctx context.Context, key, member string, at time.Time, window time.Duration, max int) ([]detect.Seen, error) {
	if window <= 0 || max <= 0 {
		return nil, errDetectArgs
	}
	h := d.c.hash(key)
	keys := []string{d.c.prefix + "detect:seen:{" + h + "}", d.c.prefix + "detect:seen:{" + h + "}:first"}
	var out []detect.Seen
	if !d.c.try(ctx, useDetect, func(ctx context.Context) error {
		res, err := observeScript.Run(ctx, d.c.rdb, keys, member, at.UnixMicro(), at.Add(-window).UnixMicro(), max, gcMillis(window)).StringSlice()
		if err != nil {
			return err
		}
		out, err = parseSeen(res)
		return err
	}) {
		return d.local.Observe(ctx, key, member, at, window, max)
	}
	return detect.RestoreAt(out, at), nil
}

// parseSeen reads observeScript's {member, first, last, …}. Scores come
// back as Redis formats doubles; the times are whole µs well within a
// double's exact range.
func parseSeen(res []string) ([]detect.Seen, error) {
	if len(res)%3 != 0 {
		return nil, fmt.Errorf("redisstate: observe returned %d values", len(res))
	}
	out := make([]detect.Seen, 0, len(res)/3)
	for i := 0; i < len(res); i += 3 {
		first, err1 := strconv.ParseFloat(res[i+1], 64)
		last, err2 := strconv.ParseFloat(res[i+2], 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("redisstate: observe: %w", err)
		}
		out = append(out, detect.Seen{Member: res[i], First: time.UnixMicro(int64(first)).UTC(), Last: time.UnixMicro(int64(last)).UTC()})
	}
	return out, nil
}

func (d *Detect) Count(ctx context.Context, key string, at time.Time, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, errDetectArgs
	}
	b, from, _ := detect.CountBucket(at, window)
	var n int64
	if !d.c.try(ctx, useDetect, func(ctx context.Context) error {
		var err error
		n, err = countScript.Run(ctx, d.c.rdb, []string{d.c.key("detect:count", key)}, b, from, gcMillis(window)).Int64()
		return err
	}) {
		return d.local.Count(ctx, key, at, window)
	}
	return n, nil
}

func (d *Detect) Once(ctx context.Context, key string, at time.Time, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errDetectArgs
	}
	var won int64
	if !d.c.try(ctx, useDetect, func(ctx context.Context) error {
		var err error
		won, err = onceScript.Run(ctx, d.c.rdb, []string{d.c.key("detect:once", key)}, at.UnixMicro(), at.Add(ttl).UnixMicro(), gcMillis(ttl)).Int64()
		return err
	}) {
		return d.local.Once(ctx, key, at, ttl)
	}
	return won == 1, nil
}
