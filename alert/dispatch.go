package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// Outbox is what the dispatcher needs of the store.
type Outbox interface {
	ClaimDeliveries(ctx context.Context, holder string, now time.Time, lease time.Duration, n int) ([]store.WebhookDelivery, error)
	RecordAttempt(ctx context.Context, a store.DeliveryAttempt, u store.DeliveryUpdate) error
}

// Sender sends one webhook request (package webhook, over HTTP). It
// follows no redirect, and its error never quotes the URL or a header.
type Sender interface {
	Send(ctx context.Context, url string, header map[string]string, body []byte) (Response, error)
}

// Response is what an attempt's answer says: its status, and how long
// the receiver asks to be left alone (Retry-After; 0 when absent).
type Response struct {
	Status     int
	RetryAfter time.Duration
}

// Outcomes of an attempt, for the deliveries metric.
const (
	OutcomeDelivered = "delivered" // a 2xx answer
	OutcomeRetry     = "retry"     // failed, to be tried again
	OutcomeFailed    = "failed"    // failed and given up on
)

// Retry is the retry policy: exponential backoff with jitter, bounded by
// attempts and age.
type Retry struct {
	// MinBackoff is the wait after the first failure, doubled after each
	// further one up to MaxBackoff. Each wait is jittered to between half
	// and all of it, so receivers that fail together are not retried in
	// lockstep (Standard Webhooks, "Deliverability and reliability").
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts: after this many failed attempts the delivery is failed.
	MaxAttempts int
	// MaxAge: a failed attempt whose retry would fall more than this
	// after the delivery was queued fails the delivery instead.
	MaxAge time.Duration
}

// DefaultRetry is the default policy: 5 s doubling up to 1 h, at most
// 15 attempts within 24 h (the last 2.7 to 5.4 h after the first).
var DefaultRetry = Retry{MinBackoff: 5 * time.Second, MaxBackoff: time.Hour, MaxAttempts: 15, MaxAge: 24 * time.Hour}

// Backoff is the wait before attempt n+1 after n failed ones (n ≥ 1),
// before jitter.
func (r Retry) Backoff(n int) time.Duration {
	d := r.MinBackoff
	for i := 1; i < n && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}

// DispatchConfig configures a Dispatcher. Outbox, Sender and Holder are
// required.
type DispatchConfig struct {
	Outbox   Outbox
	Sender   Sender
	Webhooks []Webhook
	// Holder names this node in the outbox leases.
	Holder string
	Retry  Retry // zero: DefaultRetry
	// Lease is how long a claimed delivery stays this node's; it must
	// outlast an attempt: the longest webhook timeout and the recording of
	// the outcome (default: that timeout + 15 s).
	Lease time.Duration
	// Batch is how many deliveries one claim takes, and how many Run
	// has in flight at once (default 16); they are sent concurrently.
	Batch int
	// Poll is how often the outbox is looked at when not woken (default 1 s).
	Poll time.Duration
	// Attempted is called after each attempt with its outcome (metrics).
	Attempted func(outcome string)
	Logger    *slog.Logger
	Now       func() time.Time // nil: time.Now
	// Jitter returns a number in [0, 1); nil: math/rand/v2.
	Jitter func() float64
}

// DefaultTimeout bounds an attempt to a webhook that sets no timeout
// (Standard Webhooks suggests receivers get 15 to 30 s; a sender waiting
// longer only delays the retry).
const DefaultTimeout = 10 * time.Second

// Dispatcher delivers the outbox. Run it on every node: claims are
// leased, so nodes share the work without sending a row twice while its
// lease runs.
type Dispatcher struct {
	c     DispatchConfig
	hooks map[string]Webhook
	wake  chan struct{}
}

// NewDispatcher returns a dispatcher over c.
func NewDispatcher(c DispatchConfig) *Dispatcher {
	if c.Retry == (Retry{}) {
		c.Retry = DefaultRetry
	}
	d := &Dispatcher{hooks: map[string]Webhook{}, wake: make(chan struct{}, 1)}
	var longest time.Duration
	for _, w := range c.Webhooks {
		if w.Timeout <= 0 {
			w.Timeout = DefaultTimeout
		}
		d.hooks[w.Name] = w
		longest = max(longest, w.Timeout)
	}
	if c.Lease <= 0 {
		c.Lease = longest + 15*time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Jitter == nil {
		c.Jitter = rand.Float64
	}
	if c.Attempted == nil {
		c.Attempted = func(string) {}
	}
	d.c = c
	return d
}

// Wake makes Run look at the outbox now (a new alert was queued).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Up to Batch attempts are in flight at
// once; whenever one ends, Run claims more, so a receiver that hangs for
// its whole timeout holds only its own attempts' slots, never the
// deliveries to the others. When the outbox has nothing due it waits for
// Poll, Wake or an attempt's end. It returns once its attempts have been
// recorded.
func (d *Dispatcher) Run(ctx context.Context) {
	t := time.NewTicker(d.c.Poll)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, d.c.Batch)
	for {
		free := cap(slots) - len(slots)
		if free > 0 {
			ds, err := d.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				d.c.Logger.Warn("webhook outbox not read", "err", err)
			}
			for _, del := range ds {
				slots <- struct{}{}
				wg.Go(func() {
					d.attempt(ctx, del)
					<-slots
					d.Wake()
				})
			}
			if len(ds) == free && err == nil {
				continue // more may be due; the loop waits when no slot is free
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// Tick claims the due deliveries (one batch), attempts each once,
// concurrently, and records every attempt. It returns how many it
// attempted.
func (d *Dispatcher) Tick(ctx context.Context) (int, error) {
	ds, err := d.claim(ctx, d.c.Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, del := range ds {
		wg.Go(func() { d.attempt(ctx, del) })
	}
	wg.Wait()
	return len(ds), nil
}

// claim leases up to n due deliveries to this node.
func (d *Dispatcher) claim(ctx context.Context, n int) ([]store.WebhookDelivery, error) {
	ds, err := d.c.Outbox.ClaimDeliveries(ctx, d.c.Holder, d.c.Now(), d.c.Lease, n)
	if err != nil {
		return nil, fmt.Errorf("alert: claim deliveries: %w", err)
	}
	return ds, nil
}

// attempt sends del once and records the outcome: delivered on 2xx;
// otherwise retried after the jittered backoff (or the receiver's longer
// Retry-After, up to MaxBackoff: Standard Webhooks asks senders to honour
// it), or failed once the attempts run out or the retry would fall past
// the age limit, or on 410 Gone (the receiver asks for no more). A
// webhook this node does not know is retried like a failure, not given
// up on: in a rolling deploy that adds it, another node knows it; one
// removed for good runs out of attempts.
func (d *Dispatcher) attempt(ctx context.Context, del store.WebhookDelivery) {
	start := d.c.Now()
	n := del.Attempts + 1
	rec := store.DeliveryAttempt{DeliveryID: del.ID, AlertID: del.AlertID, Webhook: del.Webhook, Attempt: n, At: start}
	w, ok := d.hooks[del.Webhook]
	var resp Response
	var err error
	if !ok {
		err = errNotConfigured
	} else {
		sctx, cancel := context.WithTimeout(ctx, w.Timeout)
		resp, err = d.c.Sender.Send(sctx, w.URL, Headers(w.Secret, del.ID, start, del.Body), del.Body)
		cancel()
	}
	status := resp.Status
	end := d.c.Now()
	rec.StatusCode, rec.Duration = status, end.Sub(start)
	var u store.DeliveryUpdate
	outcome := OutcomeRetry
	switch {
	case err == nil && status >= 200 && status < 300:
		outcome = OutcomeDelivered
		u = store.DeliveryUpdate{Status: store.DeliveryDelivered, NextAt: end}
	default:
		if err == nil {
			err = fmt.Errorf("status %d", status)
		}
		rec.Error = truncate(err.Error(), 300)
		wait := d.c.Retry.Backoff(n)
		wait = wait/2 + time.Duration(d.c.Jitter()*float64(wait/2))
		if resp.RetryAfter > wait {
			wait = min(resp.RetryAfter, d.c.Retry.MaxBackoff)
		}
		next := end.Add(wait)
		if status == 410 || n >= d.c.Retry.MaxAttempts || next.Sub(del.CreatedAt) > d.c.Retry.MaxAge {
			outcome = OutcomeFailed
			u = store.DeliveryUpdate{Status: store.DeliveryFailed, NextAt: end, LastError: rec.Error}
		} else {
			u = store.DeliveryUpdate{Status: store.DeliveryPending, NextAt: next, LastError: rec.Error}
		}
	}
	rec.Outcome = u.Status
	// Record even if ctx ended: the request went out, and the log and
	// the schedule must say so.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.c.Outbox.RecordAttempt(rctx, rec, u); err != nil {
		// The lease runs out and the row is claimed again: at least once.
		d.c.Logger.Warn("webhook attempt not recorded", "webhook", del.Webhook, "delivery", del.ID, "err", err)
	}
	d.c.Attempted(outcome)
	if outcome != OutcomeDelivered {
		d.c.Logger.Warn("webhook delivery failed", "webhook", del.Webhook, "delivery", del.ID, "alert", del.AlertID,
			"attempt", n, "status", status, "err", rec.Error, "given_up", outcome == OutcomeFailed)
	}
}

var errNotConfigured = errors.New("webhook not configured on this node")

// truncate bounds an error text for the log, cutting on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
