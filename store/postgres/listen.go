package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tessera-auth/tessera/store"
)

// feedChannel names the NOTIFY channel of the revocation feed in the
// pool's schema. Channels are database-wide, so the schema is part of the
// name: two Tessera stores in one database (or two tests) do not wake
// each other. A name too long for an identifier (63 bytes) is shortened to
// a hash of the schema.
func feedChannel(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("current schema: %w", err)
	}
	const prefix = "tessera_feed_"
	if len(prefix)+len(schema) <= 63 {
		return prefix + schema, nil
	}
	h := sha256.Sum256([]byte(schema))
	return prefix + hex.EncodeToString(h[:16]), nil
}

// Listener timing: the bounds of the reconnection backoff, and how long a
// connection may stay silent before it is checked (a variable for tests).
const (
	backoffInitial = 100 * time.Millisecond
	backoffMax     = 5 * time.Second
)

var listenIdle = 30 * time.Second

// Listener LISTENs on the feed's channel and wakes its waiters at every
// revocation any process commits to the store (appendFeed NOTIFYs it in
// the revoking transaction). It implements store.FeedListener (and so
// revocation.Notifier). Safe for concurrent use.
//
// It holds one connection of its own, outside the pool: LISTEN belongs to
// a session, and a pooler in transaction mode (PgBouncer) hands each
// transaction a different server session, where notifications are lost.
// Its connection must reach PostgreSQL directly (see ListenFeed).
type Listener struct {
	cfg     *pgx.ConnConfig
	channel string
	log     *slog.Logger
	idle    time.Duration

	mu sync.Mutex
	ch chan struct{}

	pid    atomic.Uint32 // the listening backend's process id; 0 while disconnected
	cancel context.CancelFunc
	done   chan struct{}
}

var _ store.FeedListener = (*Listener)(nil)

// ListenFeed starts listening for the feed's notifications on a dedicated
// connection to directURL, or to the store's own URL if directURL is
// empty. directURL must name the same database, reached without a
// transaction-mode pooler in between. It connects once before returning
// (an error means the URL or the server is wrong); afterwards it
// reconnects by itself, with backoff, for as long as it is open, and
// wakes its waiters at every (re)connection so that a follower catches up
// on what it missed meanwhile. log may be nil.
func (s *Store) ListenFeed(ctx context.Context, directURL string, log *slog.Logger) (store.FeedListener, error) {
	u := directURL
	if u == "" {
		u = s.url
	}
	cfg, name, err := parseConfig(u)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Listener{cfg: cfg.ConnConfig, channel: s.channel, log: log, idle: listenIdle, ch: make(chan struct{}), done: make(chan struct{})}
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: revocation listener: %s: %w", name, connectError(err))
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	go l.run(rctx, conn)
	return l, nil
}

// Notify does nothing: the revoking transaction has already notified
// every listener, at its commit (appendFeed).
func (l *Listener) Notify(context.Context) error { return nil }

// Changed returns a channel closed at the next notification or reconnection.
func (l *Listener) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ch
}

func (l *Listener) wake() {
	l.mu.Lock()
	close(l.ch)
	l.ch = make(chan struct{})
	l.mu.Unlock()
}

// Close stops listening and closes the connection.
func (l *Listener) Close() error {
	l.cancel()
	<-l.done
	return nil
}

// connect opens the connection and LISTENs.
func (l *Listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	l.pid.Store(conn.PgConn().PID())
	return conn, nil
}

// run waits for notifications on conn until ctx ends, and reconnects
// whenever the connection fails.
func (l *Listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	backoff := backoffInitial
	for first := true; ; first = false {
		if conn != nil {
			if !first {
				// Listening again: what was committed while the
				// connection was down was not heard, so followers read
				// the feed now. (The first connection is made before
				// any follower loads its cursor.)
				l.wake()
			}
			err := l.wait(ctx, conn)
			l.pid.Store(0)
			conn.Close(context.WithoutCancel(ctx))
			if ctx.Err() != nil {
				return
			}
			l.log.Warn("revocation listener lost its connection; reconnecting (the feed poll bounds revocation delay meanwhile)", "err", err)
			backoff = backoffInitial
		}
		// Full jitter, so that nodes do not reconnect in step after a
		// database restart.
		t := time.NewTimer(backoff/2 + rand.N(backoff/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, backoffMax)
		var err error
		if conn, err = l.connect(ctx); err != nil {
			conn = nil
			if ctx.Err() != nil {
				return
			}
			l.log.Warn("revocation listener cannot connect; retrying", "err", err, "retry_in", backoff)
			continue
		}
		l.log.Info("revocation listener reconnected")
	}
}

// wait relays notifications until the connection fails or ctx ends. A
// connection silent for l.idle is pinged: a peer that vanished without
// closing the socket would otherwise keep this waiting forever.
func (l *Listener) wait(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, l.idle)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			l.wake()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("idle check: %w", err)
			}
		default:
			return err
		}
	}
}
