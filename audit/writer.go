package audit

import (
	"context"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store"
)

// Appender is the store side of a Writer.
type Appender interface {
	AppendAudit(ctx context.Context, recs []store.AuditRecord, seal func(store.AuditHead, []store.AuditRecord) ([]store.AuditRecord, store.AuditHead, error)) error
	PutAuditCheckpoint(ctx context.Context, c store.AuditCheckpoint) error
}

// Config tunes a Writer. Zero fields take the defaults in brackets.
type Config struct {
	Node  string // this node's name, in every record it writes
	Queue int    // records waiting to be written [8192]
	Batch int    // records per append [512]
	// CriticalWait is how long publishing a critical record (Critical)
	// waits for room in a full queue before it is dropped, counted and
	// logged at ERROR [5s]. Other records are dropped at once.
	CriticalWait time.Duration
	// CheckpointEvery and CheckpointInterval: a periodic checkpoint after
	// this many records or this long since the last one [1000, 1m].
	CheckpointEvery    int64
	CheckpointInterval time.Duration
	// SeenMax bounds the validation summary's memory (entries) [100000]:
	// past it the summary starts afresh, so a use is summarised again.
	SeenMax int
	Logger  *slog.Logger
	Now     func() time.Time
}

type item struct {
	rec  store.AuditRecord
	done chan struct{} // a flush marker when not nil
}

// Writer is the audit subscriber: Publish turns an event into a record
// and queues it (never a store round trip on the request path); Run
// writes the queue in batches, each one AppendAudit, and checkpoints the
// chain. Safe for concurrent use.
type Writer struct {
	st    Appender
	chain *Chain
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	q     chan item

	written, dropped, failed atomic.Uint64
	waiting                  atomic.Int64  // critical publishers waiting for room
	pendingDrops             atomic.Uint64 // dropped since the last audit_dropped record

	seenMu sync.RWMutex
	seen   map[seenKey]struct{}
	seed   maphash.Seed

	lastCP   int64
	lastCPAt time.Time
}

// NewWriter returns a writer appending to st under chain.
func NewWriter(st Appender, chain *Chain, cfg Config) *Writer {
	if cfg.Queue <= 0 {
		cfg.Queue = 8192
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 512
	}
	if cfg.CriticalWait <= 0 {
		cfg.CriticalWait = 5 * time.Second
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 1000
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Minute
	}
	if cfg.SeenMax <= 0 {
		cfg.SeenMax = 100_000
	}
	w := &Writer{st: st, chain: chain, cfg: cfg, log: cfg.Logger, now: cfg.Now, q: make(chan item, cfg.Queue),
		seen: map[seenKey]struct{}{}, seed: maphash.MakeSeed()}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w
}

// Kinds is every kind but SessionRenewed: each is security-relevant
// (SessionValidated is summarised, see Publish). SessionRenewed is the
// sliding idle timeout's store write, once per session per touch interval:
// it is "last seen", kept on the session itself (last_seen_at), not a
// record per active session per minute. Renewal of a session's id (step-up,
// password change) is recorded: reauthenticated, session_revoked with
// reason "renewed", session_created.
func (w *Writer) Kinds() []event.Kind {
	var ks []event.Kind
	for k := event.Kind(1); k.String() != "unknown"; k++ {
		if k != event.SessionRenewed {
			ks = append(ks, k)
		}
	}
	return ks
}

// Written, Dropped and Failed count records appended, dropped at a full
// queue, and lost to store failures, for metrics.
func (w *Writer) Written() uint64 { return w.written.Load() }
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }
func (w *Writer) Failed() uint64  { return w.failed.Load() }

// Waiting is how many publishers of critical records wait for room in a
// full queue now.
func (w *Writer) Waiting() int64 { return w.waiting.Load() }

// seenKey is one summarised use: a session (or, for a failure without a
// session, none) from one network and one user agent, with one outcome.
type seenKey struct {
	session string
	network netip.Prefix
	ua      uint64
	reason  string
}

// Publish records e. A SessionValidated event — one per authenticated
// request — is recorded only the first time its session is used from its
// IP network (/24, /48) with its user agent (and, for a refused token,
// with its reason); later uses are answered from an in-memory set under a
// read lock, with no allocation. Every other event is one record.
func (w *Writer) Publish(ctx context.Context, e event.Event) {
	if e.Kind == event.SessionRenewed {
		return // see Kinds
	}
	if e.Kind == event.SessionValidated {
		k := seenKey{session: e.SessionID, network: network(e.IP), ua: maphash.String(w.seed, e.UserAgent), reason: e.Reason}
		w.seenMu.RLock()
		_, ok := w.seen[k]
		w.seenMu.RUnlock()
		if ok {
			return
		}
		w.seenMu.Lock()
		if _, ok := w.seen[k]; ok {
			w.seenMu.Unlock()
			return
		}
		if len(w.seen) >= w.cfg.SeenMax {
			w.seen = map[seenKey]struct{}{}
		}
		w.seen[k] = struct{}{}
		w.seenMu.Unlock()
	}
	w.enqueue(Record(e, w.cfg.Node), Critical(e.Kind))
}

func (w *Writer) enqueue(r store.AuditRecord, critical bool) {
	select {
	case w.q <- item{rec: r}:
		return
	default:
	}
	if critical {
		t := time.NewTimer(w.cfg.CriticalWait)
		defer t.Stop()
		w.waiting.Add(1)
		defer w.waiting.Add(-1)
		select {
		case w.q <- item{rec: r}:
			return
		case <-t.C:
		}
		w.log.Error("audit record dropped: the write queue stayed full", "event", r.Event, "user_id", r.UserID, "session_id", r.SessionID)
	}
	w.dropped.Add(1)
	w.pendingDrops.Add(1)
}

// Flush returns once every record queued before it was written (or ctx ends).
func (w *Writer) Flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case w.q <- item{done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run writes queued records until ctx ends, then writes what is queued
// (for up to 5 s) and returns.
func (w *Writer) Run(ctx context.Context) {
	batch := make([]store.AuditRecord, 0, w.cfg.Batch)
	var flushes []chan struct{}
	for {
		var it item
		select {
		case it = <-w.q:
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			w.drain(fctx, batch[:0])
			cancel()
			return
		}
		batch, flushes = w.take(it, batch[:0], flushes[:0])
	more:
		for len(batch) < w.cfg.Batch {
			select {
			case it = <-w.q:
				batch, flushes = w.take(it, batch, flushes)
			default:
				break more
			}
		}
		w.write(ctx, batch)
		for _, f := range flushes {
			close(f)
		}
	}
}

func (w *Writer) take(it item, batch []store.AuditRecord, flushes []chan struct{}) ([]store.AuditRecord, []chan struct{}) {
	if it.done != nil {
		return batch, append(flushes, it.done)
	}
	return append(batch, it.rec), flushes
}

func (w *Writer) drain(ctx context.Context, batch []store.AuditRecord) {
	for {
		select {
		case it := <-w.q:
			if it.done != nil {
				close(it.done)
				continue
			}
			batch = append(batch, it.rec)
			if len(batch) < w.cfg.Batch {
				continue
			}
		default:
		}
		if len(batch) == 0 {
			return
		}
		w.write(ctx, batch)
		batch = batch[:0]
		if ctx.Err() != nil {
			return
		}
	}
}

// write appends batch, retrying a failed append with backoff while ctx
// lives (up to five tries: the queue fills meanwhile, and later records
// are dropped and counted rather than the request path blocked).
func (w *Writer) write(ctx context.Context, batch []store.AuditRecord) {
	if n := w.pendingDrops.Swap(0); n > 0 {
		d := details{Dropped: n}
		r := store.AuditRecord{At: w.now().UTC().Truncate(time.Microsecond), Event: EventDropped, Actor: ActorSystem, Outcome: OutcomeFailure, Node: w.cfg.Node}
		r.Details = mustJSON(d)
		batch = append(batch, r)
	}
	if len(batch) == 0 {
		return
	}
	var head store.AuditHead
	seal := func(h store.AuditHead, recs []store.AuditRecord) ([]store.AuditRecord, store.AuditHead, error) {
		out, next, err := w.chain.Seal(h, recs)
		head = next
		return out, next, err
	}
	backoff := 100 * time.Millisecond
	for try := 1; ; try++ {
		err := w.st.AppendAudit(context.WithoutCancel(ctx), batch, seal)
		if err == nil {
			break
		}
		if try == 5 || ctx.Err() != nil {
			w.failed.Add(uint64(len(batch)))
			w.pendingDrops.Add(uint64(len(batch)))
			w.log.Error("audit records not written", "records", len(batch), "err", err)
			return
		}
		w.log.Warn("audit append failed; retrying", "records", len(batch), "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff *= 2
	}
	w.written.Add(uint64(len(batch)))
	now := w.now()
	if head.Seq-w.lastCP >= w.cfg.CheckpointEvery || now.Sub(w.lastCPAt) >= w.cfg.CheckpointInterval {
		cp := w.chain.Checkpoint(CheckpointPeriodic, head.Seq, head.MAC, now, w.cfg.Node)
		if err := w.st.PutAuditCheckpoint(context.WithoutCancel(ctx), cp); err != nil {
			w.log.Warn("audit checkpoint not stored", "seq", head.Seq, "err", err)
			return
		}
		w.lastCP, w.lastCPAt = head.Seq, now
		// The log line is a copy of the checkpoint outside the database:
		// compare it with `tessera audit verify` to see a truncation that
		// also removed the checkpoints (docs/audit.md).
		w.log.Info("audit checkpoint", "seq", head.Seq, "mac", hexString(head.MAC))
	}
}
