package sqlite

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGroupCommit: every caller returns only after an fsync that started
// after its call, and concurrent callers share fsyncs.
func TestGroupCommit(t *testing.T) {
	w := newWALSyncer("/nonexistent")
	var issued atomic.Uint64 // tickets handed out, as the syncer sees them
	var fsyncs atomic.Int64
	var mu sync.Mutex
	var coveredUpTo uint64
	w.fsyncFn = func() error {
		fsyncs.Add(1)
		w.mu.Lock()
		upTo := w.requested // what this fsync covers: it starts after these commits
		w.mu.Unlock()
		mu.Lock()
		coveredUpTo = upTo
		mu.Unlock()
		return nil
	}
	const n = 200
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			issued.Add(1)
			if err := w.sync(context.Background()); err != nil {
				t.Error(err)
			}
			w.mu.Lock()
			synced := w.synced
			w.mu.Unlock()
			mu.Lock()
			defer mu.Unlock()
			if synced < 1 || coveredUpTo < 1 {
				t.Error("returned before any fsync")
			}
		}()
	}
	wg.Wait()
	if w.synced != n {
		t.Fatalf("synced %d of %d commits", w.synced, n)
	}
	t.Logf("%d commits, %d fsyncs", n, fsyncs.Load())
	if fsyncs.Load() > n {
		t.Fatalf("%d fsyncs for %d commits", fsyncs.Load(), n)
	}
}

func TestGroupCommitError(t *testing.T) {
	w := newWALSyncer("/nonexistent")
	fail := true
	w.fsyncFn = func() error {
		if fail {
			return errors.New("disk on fire")
		}
		return nil
	}
	if err := w.sync(context.Background()); err == nil {
		t.Fatal("an fsync failure was acknowledged as durable")
	}
	// Nothing may be acknowledged after a failed fsync: the kernel may
	// have dropped pages that the failed fsync covered.
	fail = false
	if err := w.sync(context.Background()); err == nil {
		t.Fatal("a write after a failed fsync was acknowledged")
	}
}

// stalledSync returns a syncer whose first fsync, started by a caller
// running in the background, hangs until release; first has that caller's
// result.
func stalledSync(t *testing.T) (w *walSyncer, first <-chan error, release func()) {
	t.Helper()
	w = newWALSyncer("/nonexistent")
	stall, entered := make(chan struct{}), make(chan struct{})
	var once sync.Once
	w.fsyncFn = func() error {
		once.Do(func() {
			close(entered)
			<-stall
		})
		return nil
	}
	res := make(chan error, 1)
	go func() { res <- w.sync(context.Background()) }()
	<-entered
	return w, res, func() { close(stall) }
}

// TestGroupCommitWaitHonoursContext: a caller waiting behind a stalled
// fsync leaves when its context ends, with an error (its write is not
// acknowledged), instead of hanging with the disk.
func TestGroupCommitWaitHonoursContext(t *testing.T) {
	w, first, release := stalledSync(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.sync(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiter behind a stalled fsync: %v, want context.Canceled", err)
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

// TestCloseWaitsForFsync: closing the syncer waits for a running fsync to
// be done with the file, and no fsync starts after it.
func TestCloseWaitsForFsync(t *testing.T) {
	w, first, release := stalledSync(t)
	closed := make(chan error)
	go func() { closed <- w.close() }()
	select {
	case <-closed:
		t.Fatal("close returned while an fsync was running")
	default:
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := w.sync(context.Background()); err == nil {
		t.Fatal("a sync after close was acknowledged")
	}
}

// TestObserveFsync: the fsync metric is told of the fsync a write waits for.
func TestObserveFsync(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir()+"/t.db", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	s.ObserveFsync(func(d time.Duration) {
		if d < 0 {
			t.Error("negative duration")
		}
		n.Add(1)
	})
	if _, err := s.exec(ctx, "CREATE TABLE observe_fsync (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	// The write returned after its fsync ended; the observer ran before
	// the waiters were woken.
	if n.Load() < 1 {
		t.Fatal("no fsync observed for a durable write")
	}
}
