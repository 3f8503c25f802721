package redisstate

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tessera-auth/tessera/revocation"
)

// Notifier is a revocation.Notifier over Redis pub/sub: Notify publishes
// on the deployment's channel (after the store's commit, as the follower
// calls it), and Changed closes at every message from any node, and at
// every (re)subscription, since messages may have been lost meanwhile.
// Run keeps the subscription. A lost message delays, never undoes, a
// revocation: the feed in the store is read at every poll whatever
// happens, and every node's long polls and caches follow it.
type Notifier struct {
	c       *Client
	channel string
	local   *revocation.Local
}

var _ revocation.Notifier = (*Notifier)(nil)

// Notifier returns the revocation notifier on the channel PREFIX +
// "revocations".
func (c *Client) Notifier() *Notifier {
	return &Notifier{c: c, channel: c.prefix + "revocations", local: revocation.NewLocal()}
}

// Notify tells every node that a revocation was committed. While Redis is
// known to be down it does nothing (the outage was logged; the feed poll
// carries the revocation) and returns nil.
func (n *Notifier) Notify(ctx context.Context) error {
	var err error
	if !n.c.try(ctx, useNotify, func(ctx context.Context) error {
		err = n.c.rdb.Publish(ctx, n.channel, "r").Err()
		return err
	}) && err != nil {
		return fmt.Errorf("redisstate: publish revocation: %w", err)
	}
	return nil
}

// Changed returns a channel closed at the next message or resubscription.
func (n *Notifier) Changed() <-chan struct{} { return n.local.Changed() }

// Run subscribes and wakes Changed's waiters at every message until ctx
// ends, resubscribing after any failure (go-redis reconnects; Run waits
// between attempts, up to 1 s).
func (n *Notifier) Run(ctx context.Context) {
	ps := n.c.rdb.Subscribe(ctx, n.channel)
	// Receive does not watch ctx: closing the subscription ends it.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	defer ps.Close()
	backoff := 10 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			n.c.failed(useSubscribe, err)
			n.c.fallback.WithLabelValues(useSubscribe).Inc()
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		switch msg.(type) {
		case *redis.Subscription:
			// (Re)subscribed: what was published meanwhile is lost, so
			// readers look at the feed now rather than at their next poll.
			backoff = 10 * time.Millisecond
			n.local.Notify(ctx)
		case *redis.Message:
			n.local.Notify(ctx)
		}
	}
}
