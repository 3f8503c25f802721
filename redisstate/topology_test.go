package redisstate

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// exercise checks every use of Redis through url, from two nodes: the
// throttle, the known addresses, the replay cache and the fan-out.
func exercise(t *testing.T, url string) {
	t.Helper()
	a, b := open(t, url, "t:", nil), open(t, url, "t:", nil)
	if !a.Up() || !b.Up() {
		t.Fatal("Redis did not answer through the URL")
	}
	clk := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	// Many keys, so that a Cluster spreads them over its nodes.
	for i := range 20 {
		key := fmt.Sprint("alice|192.0.2.", i)
		la, lb := a.Limiter("account_ip", 2, time.Minute, clk.Now), b.Limiter("account_ip", 2, time.Minute, clk.Now)
		la.Fail(ctx, key)
		lb.Fail(ctx, key)
		if ok, _ := la.Allow(ctx, key); ok {
			t.Fatalf("key %d: a third failure across two nodes was allowed", i)
		}
		a.Known(clk.Now).Remember(ctx, fmt.Sprint("user", i), "192.0.2.1")
		if !b.Known(clk.Now).Known(ctx, fmt.Sprint("user", i), "192.0.2.1") {
			t.Fatalf("key %d: an address remembered on one node is unknown on the other", i)
		}
		if ok, err := a.Replay().Use(ctx, fmt.Sprint("jti", i), time.Minute); !ok || err != nil {
			t.Fatalf("replay first use: %v %v", ok, err)
		}
		if ok, err := b.Replay().Use(ctx, fmt.Sprint("jti", i), time.Minute); ok || err != nil {
			t.Fatalf("replay second use on another node: %v %v", ok, err)
		}
	}
	n := b.Notifier()
	subscribed := n.Changed()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); n.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	wait(t, subscribed, "the subscription")
	woken := n.Changed()
	if err := a.Notifier().Notify(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, woken, "a notification from the other node")
	if a.Up() != true || b.Up() != true {
		t.Fatal("an operation failed")
	}
}

// TestSentinel: a Sentinel URL reaches the master the sentinel names.
func TestSentinel(t *testing.T) {
	master := redistest.Start(t)
	s := redistest.StartSentinel(t, master)
	url := fmt.Sprintf("redis://%s/0?master_name=mymaster", s.Addr())
	c, err := NewUniversalClient(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*redis.Client); !ok {
		t.Fatalf("client %T", c)
	}
	exercise(t, url)
	// It went to the master, through the sentinel.
	direct := redis.NewClient(&redis.Options{Addr: master.Addr()})
	defer direct.Close()
	if n := direct.DBSize(ctx).Val(); n == 0 {
		t.Fatal("nothing was written to the master")
	}
}

// TestCluster: a Cluster URL with several seeds spreads the keys over
// the cluster's nodes, and pub/sub crosses them.
func TestCluster(t *testing.T) {
	nodes := redistest.StartCluster(t, 3)
	url := fmt.Sprintf("redis://%s?addr=%s&addr=%s", nodes[0].Addr(), nodes[1].Addr(), nodes[2].Addr())
	exercise(t, url)
	for _, s := range nodes {
		c := redis.NewClient(&redis.Options{Addr: s.Addr()})
		n := c.DBSize(ctx).Val()
		c.Close()
		if n == 0 {
			t.Errorf("cluster node %s holds no key: the keys were not spread", s.Addr())
		}
	}
}

// TestTLS: rediss:// speaks TLS and verifies the server's certificate by
// default: a self-signed one is refused (the node starts in fallback)
// unless the URL says skip_verify=true.
func TestTLS(t *testing.T) {
	srv := redistest.StartTLS(t)
	if c := open(t, srv.URL(), "t:", nil); c.Up() {
		t.Fatal("a self-signed certificate was accepted without skip_verify")
	}
	exercise(t, srv.URL()+"?skip_verify=true")
}
