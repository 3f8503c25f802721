package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// walSyncer makes commits durable with group commit. The database runs with
// synchronous=NORMAL, so a commit only appends to the WAL; before a write
// method returns, it waits for an fsync of the WAL file that began after its
// commit. One fsync then covers every commit made while the previous one ran,
// instead of one fsync per commit (synchronous=FULL), with the same
// guarantee: a write acknowledged to a caller survives a crash or a power
// loss. fsync flushes the file, whichever descriptor wrote it.
type walSyncer struct {
	walPath, dbPath string

	mu        sync.Mutex
	f         *os.File // the WAL; used only by the goroutine running fsync
	requested uint64   // tickets handed out, one per committed write
	synced    uint64   // every ticket up to this one is durable
	syncing   bool
	// done is closed when the fsync in progress ends; waiters select on it
	// and on their context, so a stalled disk cannot hold a request past
	// its deadline (its write is then unacknowledged, never falsely acked).
	done chan struct{}
	// failed is sticky: after a failed fsync the kernel may have dropped
	// the dirty pages, so nothing written since the last good fsync can be
	// acknowledged, ever. The store refuses writes until restarted.
	failed error
	// fsyncFn is fsync, replaceable in tests.
	fsyncFn func() error
	// observe, if set, is told each fsync's duration (a metric).
	observe atomic.Pointer[func(time.Duration)]

	// gate orders commits against the failure: a commit runs under its
	// read lock after checking failed, and a failure is recorded under its
	// write lock, so no commit starts once the failure is known. A write
	// that can never be acknowledged must not become visible either
	// (a session answered 503 that exists after a restart, a refresh
	// answered 503 whose retry then looks like reuse).
	gate sync.RWMutex
}

// commit runs c, a COMMIT or a single autocommit write, unless the store
// has failed: then it returns the failure and c does not run (the caller
// rolls its transaction back). The caller must already hold what c needs
// (the writer connection): c must not wait for another committer.
func (w *walSyncer) commit(c func() error) error {
	w.gate.RLock()
	defer w.gate.RUnlock()
	if err := w.err(); err != nil {
		return failedErr(err)
	}
	return c()
}

// fail records a sticky failure once every commit in progress has ended.
func (w *walSyncer) fail(err error) {
	w.gate.Lock()
	defer w.gate.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed == nil {
		w.failed = err
	}
}

// ErrNotDurable wraps the sticky failure: writes can no longer be made
// durable, and the store refuses them until restarted.
var ErrNotDurable = errors.New("sqlite: cannot make writes durable; restart after checking the disk")

func failedErr(err error) error {
	return fmt.Errorf("%w: %w", ErrNotDurable, err)
}

func newWALSyncer(dbPath string) *walSyncer {
	w := &walSyncer{walPath: dbPath + "-wal", dbPath: dbPath}
	w.fsyncFn = w.fsync
	return w
}

// sync returns once everything committed before the call is on stable
// storage, or with ctx's error if that takes longer than ctx allows. The
// fsync runs in its own goroutine, so no caller is held past its deadline.
func (w *walSyncer) sync(ctx context.Context) error {
	w.mu.Lock()
	w.requested++
	mine := w.requested
	for {
		if w.synced >= mine {
			// Durable before anything failed.
			w.mu.Unlock()
			return nil
		}
		if w.failed != nil {
			w.mu.Unlock()
			return failedErr(w.failed)
		}
		if !w.syncing {
			// Start an fsync for every ticket handed out so far.
			w.syncing = true
			w.done = make(chan struct{})
			go w.run(w.requested, w.done)
		}
		done := w.done
		w.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("sqlite: waiting for fsync: %w", ctx.Err())
		}
		w.mu.Lock()
	}
}

// err is the sticky failure, if any.
func (w *walSyncer) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// run is one fsync covering tickets up to target.
func (w *walSyncer) run(target uint64, done chan struct{}) {
	start := time.Now()
	err := w.fsyncFn()
	if o := w.observe.Load(); o != nil && err == nil {
		(*o)(time.Since(start))
	}
	if err != nil {
		// Before waking the waiters: none of them may commit again.
		w.fail(err)
	}
	w.mu.Lock()
	w.syncing = false
	if err == nil {
		w.synced = target
	}
	close(done)
	w.mu.Unlock()
}

// fsync syncs the WAL, reopening it if SQLite replaced the file.
func (w *walSyncer) fsync() error {
	cur, err := os.Stat(w.walPath)
	if errors.Is(err, fs.ErrNotExist) {
		// No WAL (not yet created, or removed on the last close): the data
		// is in the database file itself.
		f, err := os.OpenFile(w.dbPath, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	}
	if err != nil {
		return err
	}
	if w.f != nil {
		if st, err := w.f.Stat(); err != nil || !os.SameFile(st, cur) {
			w.f.Close()
			w.f = nil
		}
	}
	if w.f == nil {
		if w.f, err = os.OpenFile(w.walPath, os.O_RDWR, 0); err != nil {
			return err
		}
	}
	return w.f.Sync()
}

func (w *walSyncer) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Let a running fsync finish with the file before closing it, and
	// refuse to start another.
	for w.syncing {
		done := w.done
		w.mu.Unlock()
		<-done
		w.mu.Lock()
	}
	if w.failed == nil {
		w.failed = errors.New("store closed")
	}
	if w.f != nil {
		return w.f.Close()
	}
	return nil
}

// ObserveFsync has fn told the duration of every successful fsync of the
// WAL (group commit: one fsync may cover many writes), for a latency
// metric. fn must be cheap and safe for concurrent use. A store opened
// with NoSync makes no fsync and never calls it.
func (s *Store) ObserveFsync(fn func(time.Duration)) {
	if s.wal != nil && fn != nil {
		s.wal.observe.Store(&fn)
	}
}
