package redisstate

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/authn/authntest"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
	"github.com/tessera-auth/tessera/replay"
	"github.com/tessera-auth/tessera/store"
)

var ctx = context.Background()

// open returns a client of the test Redis under prefix.
func open(t *testing.T, url, prefix string, log *slog.Logger) *Client {
	t.Helper()
	c, err := Open(ctx, url, Options{Prefix: prefix, Secret: []byte("test secret"), Probe: 20 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestShared: two nodes, each with its own client of one Redis under one
// prefix, throttle and know addresses as one.
func TestShared(t *testing.T) {
	url := redistest.URL(t)
	var prefix string
	authntest.RunShared(t, func(t *testing.T, l authn.Limits, now func() time.Time) authn.Shared {
		if prefix == "" {
			prefix = redistest.Prefix(t, url)
			t.Cleanup(func() { prefix = "" })
		}
		c := open(t, url, prefix, nil)
		return authn.Shared{
			PerIP:        c.Limiter("ip", l.PerIPBurst, l.PerIPRefill, now),
			PerAccountIP: c.Limiter("account_ip", l.PerAccountIPBurst, l.PerAccountIPRefill, now),
			PerAccount:   c.Limiter("account", l.PerAccountBurst, l.PerAccountRefill, now),
			Known:        c.Known(now),
		}
	})
}

// TestBucket: the Redis bucket keeps the in-memory one's rules — only
// failures drain it, into debt if need be, it refills by the clock,
// Retry-After — and lives only while it is not full, under a hashed name
// with an expiry.
func TestBucket(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	a := open(t, url, prefix, nil).Limiter("acct", 3, time.Minute, clk.Now)
	b := open(t, url, prefix, nil).Limiter("acct", 3, time.Minute, clk.Now)
	for i := range 3 {
		n := []*Limiter{a, b}[i%2]
		if ok, _ := n.Allow(ctx, "alice"); !ok {
			t.Fatalf("attempt %d refused within the burst", i)
		}
		n.Fail(ctx, "alice")
	}
	if ok, wait := a.Allow(ctx, "alice"); ok || wait != time.Minute {
		t.Fatalf("after 3 failures over two nodes: ok=%v wait=%v, want refused for 1m", ok, wait)
	}
	if ok, _ := a.Allow(ctx, "bob"); !ok {
		t.Fatal("keys are not independent")
	}
	b.Fail(ctx, "bob")
	clk.Add(30 * time.Second)
	if ok, wait := b.Allow(ctx, "alice"); ok || wait != 30*time.Second {
		t.Fatalf("half refilled: ok=%v wait=%v", ok, wait)
	}
	clk.Add(30 * time.Second)
	if ok, _ := b.Allow(ctx, "alice"); !ok {
		t.Fatal("not refilled after the refill period")
	}

	rdb := a.c.rdb
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.Contains(k, "alice") || strings.Contains(k, "bob") {
			t.Fatalf("key %q names the account", k)
		}
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > 3*time.Minute+time.Second {
			t.Fatalf("key %s expires in %v; want within the refill of a full bucket", k, ttl)
		}
	}
	if len(keys) != 2 {
		t.Fatalf("%d keys, want one per drained bucket (alice, bob)", len(keys))
	}

	// Attempts in flight take nothing (a crowd of correct logins behind
	// one address never refuse each other) and write nothing.
	for i := range 10 {
		if ok, _ := []*Limiter{a, b}[i%2].Allow(ctx, "carol"); !ok {
			t.Fatalf("attempt %d in flight refused: attempts not known to fail must not drain", i)
		}
	}
	if n := rdb.Exists(ctx, a.c.key("login:acct", "carol")).Val(); n != 0 {
		t.Fatal("admitting an attempt wrote a bucket")
	}
	// Five of them fail, over both nodes: two more than the burst. The
	// debt counts: the key waits for the refill of every failure.
	for i := range 5 {
		[]*Limiter{a, b}[i%2].Fail(ctx, "carol")
	}
	if ok, wait := b.Allow(ctx, "carol"); ok || wait != 3*time.Minute {
		t.Fatalf("after 5 failures on a burst of 3: ok=%v wait=%v, want refused for 3m (the debt counts)", ok, wait)
	}
}

// TestNotifier: a revocation published by one node wakes the long polls
// and followers of another, through Changed.
func TestNotifier(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	a := open(t, url, prefix, nil).Notifier()
	b := open(t, url, prefix, nil).Notifier()
	subscribed := b.Changed()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); b.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	wait(t, subscribed, "the subscription") // it wakes waiters too: messages may have been missed
	woken := b.Changed()
	if err := a.Notify(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, woken, "another node's notification")
}

// TestReplay: of many concurrent uses of one key on several nodes exactly
// one is fresh, the key expires with its ttl, and keys are independent.
func TestReplay(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	nodes := []*Replay{open(t, url, prefix, nil).Replay(), open(t, url, prefix, nil).Replay()}
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := nodes[i%2].Use(ctx, "dpop:jti-1", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				fresh.Add(1)
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Fatalf("%d fresh uses of one key, want exactly 1", fresh.Load())
	}
	if ok, _ := nodes[0].Use(ctx, "dpop:jti-2", time.Minute); !ok {
		t.Fatal("keys are not independent")
	}
	if ttl := nodes[0].c.rdb.PTTL(ctx, nodes[0].c.key("replay", "dpop:jti-1")).Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("replay key expires in %v, want within its ttl", ttl)
	}
	if _, err := nodes[0].Use(ctx, "x", 0); !errors.Is(err, replay.ErrTTL) {
		t.Fatalf("ttl 0: %v", err)
	}
}

// TestURLForms: each documented URL form gives its kind of client, and a
// bad URL is refused without its password.
func TestURLForms(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want string
	}{
		{"redis://127.0.0.1:6379/2", "*redis.Client"},
		{"rediss://user:pw@cache.example:6380", "*redis.Client"},
		{"redis://:pw@10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000", "*redis.ClusterClient"},
		{"redis://10.0.0.1:7000?cluster=true", "*redis.ClusterClient"},
		{"redis://sentinel1:26379/0?master_name=mymaster&addr=sentinel2:26379&password=pw", "*redis.Client"},
	} {
		c, err := NewUniversalClient(tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if got := typeName(c); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.url, got, tt.want)
		}
		if r := store.Redact(tt.url); strings.Contains(r, "pw") {
			t.Errorf("logged as %s: the password shows", r)
		}
		c.Close()
	}
	for _, bad := range []string{
		"redis://:SECRETPW@cache:x",
		"redis://:SECRETPW@cache:6379?bogus=1",
		"redis://:SECRETPW@cache:6379/notadb",
		"memcache://:SECRETPW@cache",
		"redis::SECRETPW",
	} {
		_, err := NewUniversalClient(bad)
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: %v; want a refusal without the password", bad, err)
		}
	}
}

func typeName(c redis.UniversalClient) string {
	switch c.(type) {
	case *redis.Client:
		return "*redis.Client"
	case *redis.ClusterClient:
		return "*redis.ClusterClient"
	}
	return "other"
}

// logBuffer is a logger whose lines a test can count.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

// wait fails t if ch is not closed within 20 s: a hang guard, not a
// timing claim.
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never woke the waiter", what)
	}
}
