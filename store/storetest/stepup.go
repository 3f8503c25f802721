package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// testMarkStepUp: a mark is stored atomically with one evict-only feed
// entry, the first mark stands, and revoked or unknown sessions are refused.
func testMarkStepUp(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	a := newSession(t, u.ID, base)
	b := newSession(t, u.ID, base)
	mustCreate(t, s, a, 0)
	mustCreate(t, s, b, 0)
	if got, _ := s.SessionByID(ctx, a.ID); got.StepUpRequired() {
		t.Fatal("a new session is marked")
	}
	before, err := s.LastRevocationSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := base.Add(time.Minute)
	got, err := s.MarkStepUp(ctx, a.ID, at, "new_device")
	if err != nil {
		t.Fatal(err)
	}
	if !got.StepUpAt.Equal(at) || got.ID != a.ID || got.Revoked() {
		t.Fatalf("MarkStepUp returned %+v", got)
	}
	byHash, _ := s.SessionByHash(ctx, a.TokenHash)
	byID, _ := s.SessionByID(ctx, a.ID)
	if !byHash.StepUpAt.Equal(at) || !byID.StepUpAt.Equal(at) {
		t.Fatalf("stored mark: by hash %v, by id %v; want %v", byHash.StepUpAt, byID.StepUpAt, at)
	}
	if other, _ := s.SessionByID(ctx, b.ID); other.StepUpRequired() {
		t.Fatal("marking one session marked another")
	}
	list, _ := s.ListUserSessions(ctx, u.ID, at)
	for _, l := range list {
		if l.StepUpRequired() != (l.ID == a.ID) {
			t.Fatalf("listed session %s: StepUpAt %v", l.ID, l.StepUpAt)
		}
	}
	feed, err := s.Revocations(ctx, before, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 1 {
		t.Fatalf("feed has %d new entries, want 1: %+v", len(feed), feed)
	}
	if e := feed[0]; !e.EvictOnly || e.SessionID != a.ID || e.UserID != u.ID || e.Reason != "new_device" || e.JTI != "" || e.KID != "" || !e.At.Equal(at) {
		t.Fatalf("feed entry %+v", e)
	}
	// Again: succeeds, keeps the first mark, adds no feed entry.
	got, err = s.MarkStepUp(ctx, a.ID, at.Add(time.Hour), "impossible_travel")
	if err != nil || !got.StepUpAt.Equal(at) {
		t.Fatalf("second mark: %+v, %v", got, err)
	}
	if feed, _ := s.Revocations(ctx, before, 10); len(feed) != 1 {
		t.Fatalf("second mark: feed has %d new entries, want 1", len(feed))
	}
	// A revocation is a revocation, not an eviction.
	if _, err := s.RevokeSession(ctx, b.ID, at, "logout"); err != nil {
		t.Fatal(err)
	}
	feed, _ = s.Revocations(ctx, before, 10)
	if len(feed) != 2 || feed[1].EvictOnly || feed[1].SessionID != b.ID {
		t.Fatalf("feed after a revocation: %+v", feed)
	}
	if _, err := s.MarkStepUp(ctx, b.ID, at, "new_device"); !errors.Is(err, store.ErrStale) {
		t.Fatalf("marking a revoked session: %v, want ErrStale", err)
	}
	if got, _ := s.SessionByID(ctx, b.ID); got.StepUpRequired() {
		t.Fatal("a revoked session was marked")
	}
	if _, err := s.MarkStepUp(ctx, "nope", at, "new_device"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("marking an unknown session: %v, want ErrNotFound", err)
	}
	if feed, _ := s.Revocations(ctx, before, 10); len(feed) != 2 {
		t.Fatalf("refused marks appended entries: %+v", feed)
	}
}

// testConcurrentMarkStepUp: marks racing each other and a revocation
// leave one mark and one entry at most, and never a mark after the
// revocation.
func testConcurrentMarkStepUp(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	a := newSession(t, u.ID, base)
	mustCreate(t, s, a, 0)
	before, _ := s.LastRevocationSeq(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 9)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.MarkStepUp(ctx, a.ID, base.Add(time.Duration(i+1)*time.Second), "burst")
			if err != nil && !errors.Is(err, store.ErrStale) {
				errs <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := s.RevokeSession(ctx, a.ID, base.Add(time.Minute), "logout"); err != nil {
			errs <- err
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	feed, _ := s.Revocations(ctx, before, 100)
	marks, revokes := 0, 0
	for _, e := range feed {
		if e.EvictOnly {
			marks++
			if revokes > 0 {
				t.Fatal("a mark was appended after the revocation")
			}
		} else {
			revokes++
		}
	}
	if marks > 1 || revokes != 1 {
		t.Fatalf("feed: %d marks, %d revocations; want at most 1 and exactly 1", marks, revokes)
	}
	got, _ := s.SessionByID(ctx, a.ID)
	if got.StepUpRequired() != (marks == 1) {
		t.Fatalf("StepUpAt %v with %d mark entries", got.StepUpAt, marks)
	}
}
