package revocationtest

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/store"
)

// feed is a Store whose feed is empty.
type feed struct{ revocation.Store }

func (feed) Revocations(context.Context, int64, int) ([]store.Revocation, error) { return nil, nil }

// fatals records a Fatal instead of failing the test that runs it.
type fatals struct {
	testing.TB
	fatal bool
}

func (f *fatals) Helper()      {}
func (f *fatals) Fatal(...any) { f.fatal = true; runtime.Goexit() }

// waitFailed reports whether s.Wait failed under ctx.
func waitFailed(ctx context.Context, s *ReadSignal) bool {
	tb := &fatals{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Wait(tb, ctx)
	}()
	<-done
	return tb.fatal
}

// TestReadSignal: a read is signalled once; a Wait without a read since
// the last one fails when its context ends.
func TestReadSignal(t *testing.T) {
	s := NewReadSignal(feed{})
	for range 2 { // two reads before a Wait are one signal
		if _, err := s.Revocations(context.Background(), 0, 10); err != nil {
			t.Fatal(err)
		}
	}
	// The watchdog only turns a missing signal into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if waitFailed(ctx, s) {
		t.Fatal("Wait failed after a read")
	}
	ended, end := context.WithCancel(context.Background())
	end()
	if !waitFailed(ended, s) {
		t.Fatal("Wait returned with no read since the last Wait")
	}
}
