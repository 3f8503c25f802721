package revocationtest

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// Store is the revocation feed as revocation.Follower and revocation.Feed
// read it: the method set of revocation.Store, repeated here because the
// revocation package's own tests import this one.
type Store interface {
	Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error)
	LastRevocationSeq(ctx context.Context) (int64, error)
	ActiveRevocations(ctx context.Context, sessionsSince, now time.Time) ([]store.Revocation, error)
	DenyAccessToken(ctx context.Context, jti, userID string, expires, at time.Time, reason string) error
}

// ReadSignal is a Store that signals each read of the feed (Revocations)
// once it has returned. It is safe for concurrent use.
type ReadSignal struct {
	Store
	reads chan struct{}
}

// NewReadSignal wraps st.
func NewReadSignal(st Store) *ReadSignal {
	return &ReadSignal{Store: st, reads: make(chan struct{}, 1)}
}

// Revocations reads st's feed, then signals the read.
func (s *ReadSignal) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	revs, err := s.Store.Revocations(ctx, after, limit)
	select {
	case s.reads <- struct{}{}:
	default: // a signal is already pending: reads since the last Wait are one
	}
	return revs, err
}

// Wait returns once a read of the feed has returned since the last Wait,
// and fails t if ctx ends first.
func (s *ReadSignal) Wait(t testing.TB, ctx context.Context) {
	t.Helper()
	select {
	case <-s.reads:
	case <-ctx.Done():
		t.Fatal("the feed was never read")
	}
}
