package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"fmt"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// Reader is the store side of verification, export and the admin API.
type Reader interface {
	AuditHead(ctx context.Context) (store.AuditHead, error)
	AuditRecords(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error)
	AuditCheckpoints(ctx context.Context) ([]store.AuditCheckpoint, error)
}

// Report is the outcome of Verify.
type Report struct {
	Records     int64 // records checked
	First, Last int64 // Seq of the first and last record checked (0: none)
	Checkpoints int   // checkpoints whose signature and record were checked
	Cut         int64 // Seq of the latest retention cut (0: none)
	Head        int64 // the head's Seq
	// Failure is the first thing wrong, empty if the chain verifies.
	// FailedSeq is the record (or checkpoint) it names.
	Failure   string
	FailedSeq int64
}

// OK reports whether the chain verified.
func (r Report) OK() bool { return r.Failure == "" }

func (r *Report) fail(seq int64, format string, args ...any) {
	if r.Failure == "" {
		r.FailedSeq, r.Failure = seq, fmt.Sprintf(format, args...)
	}
}

// Verify checks the whole chain in st under chain's key: every checkpoint's
// signature; the records dense from the latest retention cut (or from 1),
// each MAC chained to the one before; every checkpoint's MAC matching its
// record; the head's MAC, and the head at the last record; no checkpoint
// beyond the last record. It stops at the first failure and names it in
// the Report. progress, if not nil, is called after each page with the
// records checked so far. The error is only for a store that cannot answer.
func Verify(ctx context.Context, st Reader, chain *Chain, progress func(checked int64)) (Report, error) {
	var rep Report
	cps, err := st.AuditCheckpoints(ctx)
	if err != nil {
		return rep, err
	}
	byseq := map[int64][]byte{}
	var latest int64
	for _, cp := range cps {
		if !hmac.Equal(cp.Sig, chain.CheckpointSig(cp)) {
			rep.fail(cp.Seq, "checkpoint %s at record %d: bad signature (edited or forged)", cp.Kind, cp.Seq)
			return rep, nil
		}
		if m, ok := byseq[cp.Seq]; ok && !bytes.Equal(m, cp.MAC) {
			rep.fail(cp.Seq, "checkpoints at record %d disagree", cp.Seq)
			return rep, nil
		}
		byseq[cp.Seq] = cp.MAC
		latest = max(latest, cp.Seq)
		if cp.Kind == CheckpointCut {
			rep.Cut = max(rep.Cut, cp.Seq)
		}
	}
	var prev []byte
	if rep.Cut > 0 {
		prev = byseq[rep.Cut]
	}
	next := rep.Cut + 1
	check := func(upto int64) error {
		for {
			q := store.AuditQuery{After: next - 1, Limit: 1000}
			if upto > 0 {
				q.Before = upto + 1
			}
			page, err := st.AuditRecords(ctx, q)
			if err != nil {
				return err
			}
			for _, r := range page {
				if r.Seq != next {
					rep.fail(next, "record %d missing (deleted); the next stored is %d", next, r.Seq)
					return nil
				}
				if !hmac.Equal(r.MAC, chain.RecordMAC(prev, r)) {
					rep.fail(r.Seq, "record %d: MAC mismatch (edited, inserted, reordered, or chained to an edited record)", r.Seq)
					return nil
				}
				if m, ok := byseq[r.Seq]; ok {
					if !hmac.Equal(m, r.MAC) {
						rep.fail(r.Seq, "record %d differs from its checkpoint", r.Seq)
						return nil
					}
					rep.Checkpoints++
				}
				if rep.First == 0 {
					rep.First = r.Seq
				}
				rep.Records++
				rep.Last, prev, next = r.Seq, r.MAC, r.Seq+1
			}
			if progress != nil && len(page) > 0 {
				progress(rep.Records)
			}
			if len(page) < q.Limit {
				return nil
			}
		}
	}
	if err := check(0); err != nil || !rep.OK() {
		return rep, err
	}
	// Records appended while we read move the head: read it, then check
	// the records up to it, a few times at most.
	for range 5 {
		head, err := st.AuditHead(ctx)
		if err != nil {
			return rep, err
		}
		rep.Head = head.Seq
		if head.Seq > 0 && !hmac.Equal(head.HeadMAC, chain.HeadMAC(head.Seq, head.MAC)) {
			rep.fail(head.Seq, "chain head (record %d): bad MAC (edited)", head.Seq)
			return rep, nil
		}
		last := next - 1
		if head.Seq == last {
			if last > 0 && !bytes.Equal(head.MAC, prev) {
				rep.fail(last, "record %d is not the chain head (replaced)", last)
				return rep, nil
			}
			break
		}
		if head.Seq < last {
			rep.fail(head.Seq+1, "record %d is beyond the chain head %d (inserted)", head.Seq+1, head.Seq)
			return rep, nil
		}
		before := rep.Records
		if err := check(head.Seq); err != nil || !rep.OK() {
			return rep, err
		}
		if rep.Records == before {
			rep.fail(last+1, "records %d to %d missing (tail truncated)", last+1, head.Seq)
			return rep, nil
		}
	}
	if latest > next-1 {
		rep.fail(next, "records %d to %d missing: the tail was truncated behind the checkpoint at %d", next, latest, latest)
	}
	return rep, nil
}

// Pruner is the store side of Prune.
type Pruner interface {
	AuditRecords(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error)
	PruneAudit(ctx context.Context, cut store.AuditCheckpoint) (int, error)
}

// Prune deletes the records older than before, leaving a signed cut
// checkpoint at the last one deleted, so what remains still verifies
// from the cut. It returns how many records it deleted.
func Prune(ctx context.Context, st Pruner, chain *Chain, before time.Time, node string, now time.Time) (int, error) {
	last, err := st.AuditRecords(ctx, store.AuditQuery{Until: before, Desc: true, Limit: 1})
	if err != nil || len(last) == 0 {
		return 0, err
	}
	cut := chain.Checkpoint(CheckpointCut, last[0].Seq, last[0].MAC, now, node)
	return st.PruneAudit(ctx, cut)
}
