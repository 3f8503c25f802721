package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// LeaseStore keeps the leases (store.Cluster's primitives).
type LeaseStore interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Lease is one named lease as one node takes it: the background job named
// runs where the lease is held, once per cluster. The holder renews it at
// every run, so the job stays on one node while that node lives; if the
// node stops (or cannot reach the store) for TTL, another takes over.
// Safe for concurrent use.
type Lease struct {
	st     LeaseStore
	name   string
	holder string
	ttl    time.Duration
	now    func() time.Time
}

// NewLease returns the lease name for holder (see Holder), taken for ttl
// at a time by now's clock (nil: time.Now). ttl must outlast the interval
// at which the job runs, or the lease would change hands between runs.
func NewLease(st LeaseStore, name, holder string, ttl time.Duration, now func() time.Time) *Lease {
	if now == nil {
		now = time.Now
	}
	return &Lease{st: st, name: name, holder: holder, ttl: ttl, now: now}
}

// Acquire takes or renews the lease, and reports whether this node holds
// it now: run the job only then. An error means the answer is unknown;
// run nothing.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	ok, err := l.st.AcquireLease(ctx, l.name, l.holder, l.ttl, l.now())
	if err != nil {
		return false, fmt.Errorf("cluster: lease %s: %w", l.name, err)
	}
	return ok, nil
}

// Release gives the lease up (at shutdown), so that another node takes
// the job at its next run instead of after the ttl.
func (l *Lease) Release(ctx context.Context) error {
	if err := l.st.ReleaseLease(ctx, l.name, l.holder); err != nil {
		return fmt.Errorf("cluster: release lease %s: %w", l.name, err)
	}
	return nil
}

// Holder names this process among the cluster's nodes: the host name,
// for operators reading the leases table, and a random part, so that two
// processes on one host (or a restart) are different holders.
func Holder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var b [6]byte
	rand.Read(b[:])
	return host + "/" + hex.EncodeToString(b[:])
}
