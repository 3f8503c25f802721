package readiness

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Tracker remembers the outcome of a store's writes. Safe for concurrent use.
//
// A store that answers reads may still be unable to commit: the disk is
// full, the database is read-only or damaged, an fsync failed. Load
// balancers must then send logins elsewhere, so readiness reflects the
// ability to commit: a write that failed for such a reason makes the store
// not ready until a later write (a real one or the probe) commits.
type Tracker struct {
	isFailure func(error) bool
	every     time.Duration
	now       func() time.Time

	mu      sync.Mutex
	failure error     // the last storage failure, until a write commits
	lastOK  time.Time // when a write last committed

	probing sync.Mutex // one probe at a time; others report what is known
}

// New returns a tracker. isFailure tells a storage failure (disk full,
// read-only, I/O error, corruption, lost connection) from an error that
// says nothing about the store's health (a constraint, a missing row, a
// caller that gave up). Without a committed write for every, Ready probes.
func New(isFailure func(error) bool, every time.Duration) *Tracker {
	return &Tracker{isFailure: isFailure, every: every, now: time.Now}
}

// Record notes one write's outcome: nil means a commit, so writes work.
func (t *Tracker) Record(err error) {
	if err != nil && !t.isFailure(err) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.failure, t.lastOK = nil, t.now()
		return
	}
	t.failure = err
}

// Ready returns nil when writes are known to work. After a storage failure,
// or when no write has committed for a while (an idle node learns of a
// read-only disk only by writing), it runs probe, a small write that
// commits, and records its outcome; a caller arriving while another probes
// gets the last known state instead of a second probe.
func (t *Tracker) Ready(ctx context.Context, probe func(context.Context) error) error {
	t.mu.Lock()
	stale := t.failure != nil || t.now().Sub(t.lastOK) >= t.every
	t.mu.Unlock()
	if stale && t.probing.TryLock() {
		err := probe(ctx)
		t.probing.Unlock()
		t.Record(err)
		if err != nil && !t.isFailure(err) {
			return fmt.Errorf("write probe: %w", err)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failure != nil {
		return fmt.Errorf("writes fail: %w", t.failure)
	}
	return nil
}
