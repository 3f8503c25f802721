// Package storestate keeps detection rules' shared state (detect.State) in
// the store, for a cluster without Redis: every node sharing the store
// sees the same state, at the cost of a store round trip or two per
// operation (rules run off the request path; docs/detection.md).
package storestate

import (
	"context"
	"errors"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/store"
)

// State is a detect.State in a store. Observe is exact; Count is
// bucketed (detect.CountBucket): it never counts an event older than the
// window and may miss those of its oldest tenth. Nothing expires by the
// database's clock: the callers' at decides, and the store's rows are
// deleted by DeleteExpiredDetectState (the cluster's hourly cleanup) once
// no at can need them. Safe for concurrent use.
type State struct {
	st store.DetectState
}

var _ detect.State = (*State)(nil)

// New returns the state kept in st.
func New(st store.DetectState) *State { return &State{st: st} }

// errArgs is a caller's mistake: a window, ttl or max that is not
// positive.
var errArgs = errors.New("storestate: window, ttl and max must be positive")

func (s *State) Observe(ctx context.Context, key, member string, at time.Time, window time.Duration, max int) ([]detect.Seen, error) {
	if window <= 0 || max <= 0 {
		return nil, errArgs
	}
	got, err := s.st.DetectObserve(ctx, key, member, at, at.Add(-window), max, at.Add(window))
	if err != nil {
		return nil, err
	}
	out := make([]detect.Seen, len(got))
	for i, g := range got {
		out[i] = detect.Seen{Member: g.Member, First: g.First, Last: g.Last}
	}
	return detect.RestoreAt(out, at), nil
}

func (s *State) Count(ctx context.Context, key string, at time.Time, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, errArgs
	}
	b, from, width := detect.CountBucket(at, window)
	// The bucket counts until it has left every window: window after
	// its end.
	end := time.UnixMicro((b + 1) * width.Microseconds())
	return s.st.DetectCount(ctx, key, b, from, end.Add(window))
}

func (s *State) Once(ctx context.Context, key string, at time.Time, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errArgs
	}
	return s.st.DetectOnce(ctx, key, at, at.Add(ttl))
}
