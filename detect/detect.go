package detect

import (
	"context"
	"net/netip"
	"time"

	"github.com/tessera-auth/tessera/geoip"
)

// Action is what a rule does when it fires. Each action includes the ones
// before it: every firing is logged, and every action but log raises an
// alert.
type Action string

// The actions, mildest first.
const (
	ActionLog           Action = "log"
	ActionAlert         Action = "alert"
	ActionStepUp        Action = "step_up"
	ActionRevokeSession Action = "revoke_session"
	ActionRevokeUser    Action = "revoke_user"
)

// Severities of an alert.
const (
	SeverityLow    = "low"
	SeverityMedium = "medium"
	SeverityHigh   = "high"
)

// Alert is one firing of a rule: who it concerns, what was seen and what
// was done. Evidence never holds a token, password, secret or code.
type Alert struct {
	ID        string // set by the Alerts sink
	At        time.Time
	Rule      string
	Severity  string
	Action    Action // the action taken
	UserID    string
	SessionID string
	ClientID  string
	IP        netip.Addr
	Evidence  map[string]string
}

// Alerts keeps alerts: it stores one and queues its webhook deliveries in
// one step, so an alert is delivered at least once (package alert).
type Alerts interface {
	Raise(ctx context.Context, a Alert) (Alert, error)
}

// Seen is one member of an observed set: when it was first and last seen
// within the window.
type Seen struct {
	Member      string
	First, Last time.Time
}

// State is the windowed memory rules keep, shared by every node of a
// cluster: in Redis when configured, otherwise in the store, or in this
// process for a single node. Keys are the rule's own (never a raw token);
// every method is atomic on its key.
type State interface {
	// Observe records member under key at time at and returns the members
	// seen under key within window before at (at included), at most max of
	// them, most recently seen first. Members last seen before at−window
	// are forgotten.
	Observe(ctx context.Context, key, member string, at time.Time, window time.Duration, max int) ([]Seen, error)
	// Count adds one to key's count at time at and returns the count within
	// window ending at at (sliding or bucketed: at most one bucket's
	// imprecision, documented by the implementation).
	Count(ctx context.Context, key string, at time.Time, window time.Duration) (int64, error)
	// Once reports whether key was not claimed within ttl before at, and
	// claims it: one alert per incident, not one per request, across nodes.
	Once(ctx context.Context, key string, at time.Time, ttl time.Duration) (bool, error)
}

// Locator places an address on the map (package geoip, from a
// MaxMind-format database); ok is false when the address is not in it.
type Locator interface {
	Lookup(ip netip.Addr) (loc geoip.Location, ok bool)
}
