package revocationtest

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/store"
)

// ReadSignal is a revocation.Store that signals each read of the feed
// (Revocations) once it has returned. It is safe for concurrent use.
type ReadSignal struct {
	revocation.Store
	reads chan struct{}
}

// NewReadSignal wraps st.
func NewReadSignal(st revocation.Store) *ReadSignal {
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

// Poll is what a long poll of the feed answered.
type Poll struct {
	Page revocation.Page
	Err  error
}

// LongPoll starts feed.Read(ctx, after, wait) in its own goroutine and
// returns the channel its answer arrives on.
func LongPoll(ctx context.Context, feed *revocation.Feed, after int64, wait time.Duration) <-chan Poll {
	done := make(chan Poll, 1)
	go func() {
		p, err := feed.Read(ctx, after, wait)
		done <- Poll{p, err}
	}()
	return done
}
