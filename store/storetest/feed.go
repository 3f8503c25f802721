package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// testFeedNeverSkips holds a backend to the feed ordering contract (see
// store.Revocation): hundreds of revocations (session revocations and
// access-token denials) commit concurrently while a follower polls the
// feed with small pages, moving its cursor only forward. At the end the
// follower must have seen every revocation exactly once. A backend that
// numbers entries before commit and lets them commit out of order (a bare
// PostgreSQL bigserial) fails: the follower reads past a gap that a slower
// transaction fills later, below its cursor.
func testFeedNeverSkips(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	const sessions, denials, writers = 200, 200, 16
	want := make(map[string]bool, sessions+denials)
	jobs := make(chan func() error, sessions+denials)
	for i := range sessions {
		x := newSession(t, u.ID, base)
		mustCreate(t, s, x, 0)
		want["sid:"+x.ID] = true
		jobs <- func() error {
			_, err := s.RevokeSession(ctx, x.ID, base.Add(time.Duration(i)*time.Millisecond), "logout")
			return err
		}
	}
	for i := range denials {
		jti := fmt.Sprintf("jti-feed-%d", i)
		want["jti:"+jti] = true
		jobs <- func() error {
			return s.DenyAccessToken(ctx, jti, u.ID, base.Add(time.Hour), base.Add(time.Duration(i)*time.Millisecond), "revoked")
		}
	}
	close(jobs)

	var done atomic.Bool
	seen := make(map[string]int, len(want))
	followed := make(chan error, 1)
	go func() {
		var cursor int64
		for {
			finished := done.Load() // read before the page: a read after the writers finished drains
			page, err := s.Revocations(ctx, cursor, 7)
			if err != nil {
				followed <- fmt.Errorf("reading the feed after %d: %w", cursor, err)
				return
			}
			for _, r := range page {
				if r.Seq <= cursor {
					followed <- fmt.Errorf("entry %d read after cursor %d: the feed went backwards", r.Seq, cursor)
					return
				}
				cursor = r.Seq
				if r.JTI != "" {
					seen["jti:"+r.JTI]++
				} else {
					seen["sid:"+r.SessionID]++
				}
			}
			if finished && len(page) == 0 {
				followed <- nil
				return
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range jobs {
				if err := job(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent revocation: %v", err)
	}
	if err := <-followed; err != nil {
		t.Fatal(err)
	}
	var missed []string
	for k := range want {
		if seen[k] != 1 {
			missed = append(missed, fmt.Sprintf("%s seen %d times", k, seen[k]))
		}
	}
	if len(missed) > 0 || len(seen) != len(want) {
		t.Fatalf("the follower saw %d distinct revocations of %d; %d wrong: %v", len(seen), len(want), len(missed), missed[:min(len(missed), 10)])
	}
}
