package redisstate

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/tessera-auth/tessera/store"
)

// ErrDown is returned, without trying, by operations that have no
// fallback while Redis is known to be down.
var ErrDown = errors.New("redisstate: redis is unavailable")

// Options are how a Client runs.
type Options struct {
	// Prefix starts every key and channel name (config redis.prefix).
	Prefix string
	// Secret keys the hash that turns account names and client addresses
	// into key names, so that a copy of Redis does not list them. Every
	// node must use the same one; nil means an unkeyed hash (tests).
	Secret []byte
	// Probe is how often Run pings Redis, which is how an outage ends
	// without a request paying for the attempt. Zero means 1 s.
	Probe time.Duration
	// Logger receives the outage and recovery lines; nil discards them.
	Logger *slog.Logger
}

// Client is a connection to Redis and the record of whether it answers.
// While it does not, every operation with a fallback takes it at once
// rather than waiting for a timeout; Run's probe ends the outage. Safe for
// concurrent use.
type Client struct {
	rdb    redis.UniversalClient
	prefix string
	secret []byte
	probe  time.Duration
	log    *slog.Logger
	where  string // the URL without its password

	mu       sync.Mutex // serialises changes of up and their log lines
	up       atomic.Bool
	downAt   atomic.Int64 // unix ns the outage began
	upGauge  prometheus.GaugeFunc
	fallback *prometheus.CounterVec
}

// Uses of Redis, as the fallback metric labels them.
const (
	useThrottle  = "throttle"
	useKnown     = "known_addresses"
	useNotify    = "revocation_publish"
	useSubscribe = "revocation_subscribe"
	useDetect    = "detect_state"
)

// Open connects to the Redis raw names (see NewUniversalClient for the URL
// forms). A Redis that does not answer is not an error: the client starts
// in fallback and logs it. Only a URL that cannot be used is.
func Open(ctx context.Context, raw string, opt Options) (*Client, error) {
	rdb, err := NewUniversalClient(raw)
	if err != nil {
		return nil, err
	}
	c := &Client{rdb: rdb, prefix: opt.Prefix, secret: opt.Secret, probe: opt.Probe, log: opt.Logger, where: store.Redact(raw)}
	if c.probe <= 0 {
		c.probe = time.Second
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if opt.Logger != nil {
		// go-redis reports every failed dial on its own, in the standard
		// logger's format; the outage is ours to report, once: its
		// details go to debug.
		quietOnce.Do(func() { redis.SetLogger(debugLogger{opt.Logger}) })
	}
	c.upGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tessera_redis_up", Help: "1 while this node's Redis answers, 0 while shared state falls back to the node's own.",
	}, func() float64 {
		if c.up.Load() {
			return 1
		}
		return 0
	})
	c.fallback = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tessera_redis_fallback_total", Help: "Operations done without Redis because it was unavailable, by use.",
	}, []string{"use"})
	for _, u := range []string{useThrottle, useKnown, useNotify, useSubscribe, useDetect} {
		c.fallback.WithLabelValues(u)
	}
	c.downAt.Store(time.Now().UnixNano())
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		c.log.Error("redis unavailable at start: login throttles, known addresses and detection state are this node's own, revocations travel by the store's feed, until it answers", "redis", c.where, "err", err)
	} else {
		c.up.Store(true)
	}
	return c, nil
}

// NewUniversalClient returns the go-redis client raw names:
//
//	redis://[user:password@]host[:port][/db][?opt=…]     one server
//	rediss://…                                           the same over TLS
//	redis://[user:password@]host:port?addr=host:port&addr=…  a Redis Cluster:
//	                                                     its seed nodes (or
//	                                                     ?cluster=true with one seed)
//	redis://[suser:spassword@]sentinel:26379/[db]?master_name=NAME&addr=sentinel2:26379&password=…
//	                                                     Sentinel: the host and the
//	                                                     addr= are sentinels, user
//	                                                     info their credentials,
//	                                                     username=/password= the master's
//
// The options are go-redis's (ParseURL, ParseClusterURL,
// ParseFailoverURL). Unless the URL sets them, dials time out after 2 s,
// reads and writes after 1 s, and nothing is retried (max_retries=-1): a
// throttle take or a replay mark sent twice would count twice.
func NewUniversalClient(raw string) (redis.UniversalClient, error) {
	// Messages never quote the URL: it may hold a password.
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return nil, errors.New("redisstate: the Redis URL does not parse; want redis[s]://[user[:password]@]host[:port][/db][?…]")
	}
	q := u.Query()
	has := q.Has
	fail := func(err error) error {
		return fmt.Errorf("redisstate: Redis URL %s: %w", store.Redact(raw), err)
	}
	switch {
	case has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fail(err)
		}
		defaults(has, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries)
		return redis.NewFailoverClient(o), nil
	case has("addr") || q.Get("cluster") == "true":
		q.Del("cluster")
		u.RawQuery = q.Encode()
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fail(err)
		}
		defaults(has, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries)
		return redis.NewClusterClient(o), nil
	default:
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fail(err)
		}
		defaults(has, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries)
		return redis.NewClient(o), nil
	}
}

func defaults(has func(string) bool, dial, read, write *time.Duration, retries *int) {
	if !has("dial_timeout") {
		*dial = 2 * time.Second
	}
	if !has("read_timeout") {
		*read = time.Second
	}
	if !has("write_timeout") {
		*write = time.Second
	}
	if !has("max_retries") {
		*retries = -1
	}
}

// Redis is the underlying client, for what this package does not wrap.
func (c *Client) Redis() redis.UniversalClient { return c.rdb }

// Up reports whether Redis answered last time it was asked.
func (c *Client) Up() bool { return c.up.Load() }

// Collectors are the client's metrics: tessera_redis_up and
// tessera_redis_fallback_total{use}.
func (c *Client) Collectors() []prometheus.Collector {
	return []prometheus.Collector{c.upGauge, c.fallback}
}

// Close closes the connections.
func (c *Client) Close() error { return c.rdb.Close() }

// Run pings Redis every Probe until ctx ends, which is how an outage is
// noticed without traffic and how it ends.
func (c *Client) Run(ctx context.Context) {
	t := time.NewTicker(c.probe)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, max(c.probe, time.Second))
		err := c.rdb.Ping(pctx).Err()
		cancel()
		switch {
		case err == nil:
			c.recovered()
		case ctx.Err() == nil:
			c.failed("probe", err)
		}
	}
}

// try runs fn unless Redis is known to be down. It returns false if the
// caller must fall back, having counted the fallback under use.
func (c *Client) try(ctx context.Context, use string, fn func(context.Context) error) bool {
	if !c.up.Load() {
		c.fallback.WithLabelValues(use).Inc()
		return false
	}
	err := fn(ctx)
	if err == nil {
		return true
	}
	if ctx.Err() == nil { // a caller giving up says nothing of Redis
		c.failed(use, err)
	}
	c.fallback.WithLabelValues(use).Inc()
	return false
}

// failed records that Redis did not answer; the first failure of an
// outage is logged, loudly.
// The line is written before the state changes (under mu), so whoever
// sees the new state can rely on the line being there.
func (c *Client) failed(use string, err error) {
	if !c.up.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up.Load() {
		c.log.Error("redis unavailable: login throttles, known addresses and detection state fall back to this node's own, revocations travel by the store's feed, until it answers",
			"redis", c.where, "use", use, "err", err)
		c.downAt.Store(time.Now().UnixNano())
		c.up.Store(false)
	}
}

// recovered records that Redis answered; the end of an outage is logged.
func (c *Client) recovered() {
	if c.up.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up.Load() {
		c.log.Warn("redis available again: shared login throttles, detection state and revocation fan-out resume",
			"redis", c.where, "outage", time.Since(time.Unix(0, c.downAt.Load())).Round(time.Millisecond).String())
		c.up.Store(true)
	}
}

// key names the entry of kind for id (an account, an address): the
// prefix, the kind, and a keyed hash of id, so that key names hold
// neither account names nor addresses, and have a bounded length.
func (c *Client) key(kind, id string) string {
	return c.prefix + kind + ":" + c.hash(id)
}

// hash is the keyed hash of id, 128 bits in hex.
func (c *Client) hash(id string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

var quietOnce sync.Once

// debugLogger is go-redis's internal logger, writing at debug level.
type debugLogger struct{ log *slog.Logger }

func (l debugLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
