package probe

import (
	"context"
	"net/netip"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/throttle"
)

// Limits are the probing budgets: Burst failures, then one more per Refill.
type Limits struct {
	// BearerPerIP: failed bearer credentials (an access or session token
	// refused as invalid or revoked; an expired one is genuine and does
	// not count) from one address (an IPv6 /64). Default 50, then one a
	// second: honest clients rarely present such tokens; thousands of
	// them are a scan.
	BearerPerIPBurst  int
	BearerPerIPRefill time.Duration
	// IntrospectPerClient: introspections answered inactive for one
	// resource-server client. Default 1000, then 20 a second: resource
	// servers see expired tokens all day, a scan sees nothing else.
	IntrospectPerClientBurst  int
	IntrospectPerClientRefill time.Duration
	// IntrospectPerIP: the same, per address, so many clients' credentials
	// on one host do not multiply the budget. Same defaults.
	IntrospectPerIPBurst  int
	IntrospectPerIPRefill time.Duration
}

// DefaultLimits returns the defaults stated on Limits.
func DefaultLimits() Limits {
	return Limits{
		BearerPerIPBurst: 50, BearerPerIPRefill: time.Second,
		IntrospectPerClientBurst: 1000, IntrospectPerClientRefill: 50 * time.Millisecond,
		IntrospectPerIPBurst: 1000, IntrospectPerIPRefill: 50 * time.Millisecond,
	}
}

// What was probed, for events (event.Event.Token).
const (
	Bearer        = "bearer"
	Introspection = "introspection"
)

// Limiter counts failed token presentations. Safe for concurrent use.
type Limiter struct {
	bearerIP, introIP, introClient *throttle.Limiter
	ev                             event.Sink
	now                            func() time.Time
}

// New returns a limiter with l's budgets (zero fields take the defaults);
// ev (may be nil) receives event.TokenProbeThrottled; now is the clock.
func New(l Limits, ev event.Sink, now func() time.Time) *Limiter {
	d := DefaultLimits()
	pick := func(burst int, refill time.Duration, dBurst int, dRefill time.Duration) (int, time.Duration) {
		if burst <= 0 {
			burst = dBurst
		}
		if refill <= 0 {
			refill = dRefill
		}
		return burst, refill
	}
	if now == nil {
		now = time.Now
	}
	bb, br := pick(l.BearerPerIPBurst, l.BearerPerIPRefill, d.BearerPerIPBurst, d.BearerPerIPRefill)
	cb, cr := pick(l.IntrospectPerClientBurst, l.IntrospectPerClientRefill, d.IntrospectPerClientBurst, d.IntrospectPerClientRefill)
	ib, ir := pick(l.IntrospectPerIPBurst, l.IntrospectPerIPRefill, d.IntrospectPerIPBurst, d.IntrospectPerIPRefill)
	return &Limiter{
		bearerIP: throttle.New(bb, br, now), introClient: throttle.New(cb, cr, now), introIP: throttle.New(ib, ir, now),
		ev: ev, now: now,
	}
}

// Use is who presented a token: the client's address and user agent, and
// for introspection the calling client.
type Use struct {
	IP        netip.Addr
	UserAgent string
	ClientID  string
}

// BearerBlocked reports whether bearer credentials from u.IP are refused
// for now, and for how long. It takes nothing: only failures count.
func (l *Limiter) BearerBlocked(u Use) (time.Duration, bool) {
	if l.bearerIP.Idle() {
		return 0, false // no formatting of the address on the common path
	}
	blocked, wait := l.bearerIP.Blocked(throttle.IPKey(u.IP))
	return wait, blocked
}

// BearerFailed counts a bearer credential refused for its own fault (not
// because the store could not answer).
func (l *Limiter) BearerFailed(ctx context.Context, u Use) {
	l.fail(ctx, Bearer, u, l.bearerIP, throttle.IPKey(u.IP))
}

// IntrospectBlocked reports whether introspection by u.ClientID or from
// u.IP is refused for now, and for how long.
func (l *Limiter) IntrospectBlocked(u Use) (time.Duration, bool) {
	if blocked, wait := l.introClient.Blocked(u.ClientID); blocked {
		return wait, true
	}
	blocked, wait := l.introIP.Blocked(throttle.IPKey(u.IP))
	return wait, blocked
}

// IntrospectFailed counts an introspection answered inactive.
func (l *Limiter) IntrospectFailed(ctx context.Context, u Use) {
	l.fail(ctx, Introspection, u, l.introClient, u.ClientID)
	l.fail(ctx, Introspection, u, l.introIP, throttle.IPKey(u.IP))
}

// fail drains one attempt from key's bucket; the failure that empties it
// publishes event.TokenProbeThrottled (once per emptying: afterwards
// attempts are refused before they can fail).
func (l *Limiter) fail(ctx context.Context, what string, u Use, lim *throttle.Limiter, key string) {
	// One step, not Allow then Fail: failures that raced the refusal
	// (admitted before the bucket emptied) take nothing, so the bucket is
	// never overdrawn and only the failure that emptied it publishes.
	spent, empty, wait := lim.Spend(ctx, key)
	if spent && empty && l.ev != nil {
		l.ev.Publish(ctx, event.Event{Kind: event.TokenProbeThrottled, At: l.now().UTC(), Token: what,
			IP: u.IP, UserAgent: u.UserAgent, ClientID: u.ClientID, RetryAfter: wait})
	}
}
