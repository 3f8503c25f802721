package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// linkSeal is a stand-in for the audit package's keyed seal: each record's
// MAC is a hash of the previous MAC and its Seq, so a chain with a fork
// or a gap shows.
func linkSeal(h store.AuditHead, recs []store.AuditRecord) ([]store.AuditRecord, store.AuditHead, error) {
	out := make([]store.AuditRecord, len(recs))
	prev, seq := h.MAC, h.Seq
	for i, r := range recs {
		seq++
		r.Seq, r.MAC = seq, link(prev, seq)
		out[i], prev = r, r.MAC
	}
	return out, store.AuditHead{Seq: seq, MAC: prev, HeadMAC: link(prev, -seq)}, nil
}

func link(prev []byte, seq int64) []byte {
	h := sha256.New()
	h.Write(prev)
	binary.Write(h, binary.BigEndian, seq)
	return h.Sum(nil)
}

func auditRec(i int, user string) store.AuditRecord {
	return store.AuditRecord{At: base.Add(time.Duration(i) * time.Second), Event: "login_succeeded", Actor: "user", UserID: user,
		SessionID: fmt.Sprintf("s-%d", i), ClientID: "app", IP: "192.0.2.1", UserAgent: "ua", Outcome: "success",
		Details: []byte(`{"reason":"x"}`), Node: "n1"}
}

// testAuditLog: appends chain densely under the head, every field round
// trips, queries filter and page, checkpoints and pruning keep what they say.
func testAuditLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	if h, err := s.AuditHead(ctx); err != nil || h.Seq != 0 {
		t.Fatalf("empty head = %+v, %v", h, err)
	}
	var recs []store.AuditRecord
	for i := range 10 {
		recs = append(recs, auditRec(i, []string{"alice", "bob"}[i%2]))
	}
	if err := s.AppendAudit(ctx, recs[:4], linkSeal); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, recs[4:], linkSeal); err != nil {
		t.Fatal(err)
	}
	h, err := s.AuditHead(ctx)
	if err != nil || h.Seq != 10 || string(h.HeadMAC) != string(link(h.MAC, -10)) {
		t.Fatalf("head = %+v, %v", h, err)
	}
	all, err := s.AuditRecords(ctx, store.AuditQuery{Limit: 100})
	if err != nil || len(all) != 10 {
		t.Fatalf("records = %d, %v", len(all), err)
	}
	var prev []byte
	for i, r := range all {
		want := recs[i]
		want.Seq, want.MAC = int64(i+1), link(prev, int64(i+1))
		if fmt.Sprint(r) != fmt.Sprint(want) {
			t.Fatalf("record %d = %+v, want %+v", i+1, r, want)
		}
		prev = r.MAC
	}
	bob, _ := s.AuditRecords(ctx, store.AuditQuery{UserID: "bob", Desc: true, Limit: 2})
	if len(bob) != 2 || bob[0].Seq != 10 || bob[1].Seq != 8 {
		t.Fatalf("bob's newest two = %+v", bob)
	}
	page, _ := s.AuditRecords(ctx, store.AuditQuery{UserID: "bob", Desc: true, Before: 8, Limit: 100})
	if len(page) != 3 || page[0].Seq != 6 {
		t.Fatalf("next page = %+v", page)
	}
	if r, _ := s.AuditRecords(ctx, store.AuditQuery{SessionID: "s-3", Limit: 9}); len(r) != 1 || r[0].Seq != 4 {
		t.Fatalf("by session = %+v", r)
	}
	if r, _ := s.AuditRecords(ctx, store.AuditQuery{Since: base.Add(2 * time.Second), Until: base.Add(5 * time.Second), Event: "login_succeeded", Limit: 9}); len(r) != 3 || r[0].Seq != 3 {
		t.Fatalf("by time = %+v", r)
	}
	if r, _ := s.AuditRecords(ctx, store.AuditQuery{Event: "other", Limit: 9}); len(r) != 0 {
		t.Fatalf("by event = %+v", r)
	}
	cp := store.AuditCheckpoint{Seq: 4, MAC: all[3].MAC, At: base, Kind: "periodic", Node: "n1", Sig: []byte("sig")}
	for range 2 {
		if err := s.PutAuditCheckpoint(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	cut := store.AuditCheckpoint{Seq: 6, MAC: all[5].MAC, At: base, Kind: "cut", Node: "n1", Sig: []byte("cut")}
	if n, err := s.PruneAudit(ctx, cut); err != nil || n != 6 {
		t.Fatalf("prune = %d, %v", n, err)
	}
	cps, _ := s.AuditCheckpoints(ctx)
	if len(cps) != 1 || fmt.Sprint(cps[0]) != fmt.Sprint(cut) {
		t.Fatalf("checkpoints after prune = %+v", cps)
	}
	if r, _ := s.AuditRecords(ctx, store.AuditQuery{Limit: 100}); len(r) != 4 || r[0].Seq != 7 {
		t.Fatalf("records after prune = %+v", r)
	}
}

// testAuditConcurrentAppend: appends racing (as from several nodes) form
// one dense chain: each saw the head the one before it left.
func testAuditConcurrentAppend(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers, batches = 8, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				if err := s.AppendAudit(ctx, []store.AuditRecord{auditRec(w*100+b, "u"), auditRec(w*100+b, "v")}, linkSeal); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	all, err := s.AuditRecords(ctx, store.AuditQuery{Limit: 1000})
	if err != nil || len(all) != writers*batches*2 {
		t.Fatalf("records = %d, %v", len(all), err)
	}
	var prev []byte
	for i, r := range all {
		if r.Seq != int64(i+1) || string(r.MAC) != string(link(prev, r.Seq)) {
			t.Fatalf("record %d (seq %d) does not chain to the one before: appends interleaved", i+1, r.Seq)
		}
		prev = r.MAC
	}
}
