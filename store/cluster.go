package store

import (
	"context"
	"time"
)

// Cluster settings: names of the values every node sharing a store must
// agree on (the cluster package decides what agreeing means).
const (
	SettingIssuer       = "issuer"
	SettingPublicOrigin = "public_origin"
)

// Cluster is what the nodes sharing a store agree on through it: settings
// fixed for the whole cluster, and leases that let one node at a time do
// the background work the cluster needs once (cleanup, key rotation).
// Primitives only; the policy is the cluster package's.
type Cluster interface {
	// InitSetting stores value under name unless name already has a value,
	// and returns the value stored: value, or the one another node stored
	// first. Atomic: of nodes racing, every one returns the same value.
	InitSetting(ctx context.Context, name, value string) (string, error)
	// Setting returns name's value; ErrNotFound if it has none.
	Setting(ctx context.Context, name string) (string, error)
	// AcquireLease gives the lease name to holder until now+ttl if it is
	// free, expired at now, or holder's already (a renewal), and reports
	// whether holder holds it. MUST be atomic (a conditional upsert): of
	// holders racing for a lease, exactly one wins until it expires or is
	// released. now is the caller's clock: nodes must keep their clocks
	// far closer than the leases' ttl.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
	// ReleaseLease frees the lease name if holder holds it, so another
	// node may take it at once (at shutdown); otherwise it does nothing.
	ReleaseLease(ctx context.Context, name, holder string) error
}
