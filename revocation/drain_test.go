package revocation_test

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/revocation/revocationtest"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// TestLongPollAnswersOnDrain: Drain (the server shutting down) answers a
// waiting long poll at once with a true, empty page, and a later one
// without waiting; with a poll bound and a wait no test outlives, nothing
// else could end them.
func TestLongPollAnswersOnDrain(t *testing.T) {
	f := sqlitetest.NewFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), watchdog)
	defer cancel()
	fl := revocation.NewFollower(f.Store, noEvictions{}, revocation.Config{Poll: time.Second, Now: f.Clock.Now})
	st := revocationtest.NewReadSignal(f.Store)
	feed := revocation.NewFeed(st, fl, revocation.FeedConfig{AccessTTL: 15 * time.Minute, Poll: time.Hour, Now: f.Clock.Now})
	done := revocationtest.LongPoll(ctx, feed, 0, time.Hour)
	st.Wait(t, ctx) // the poll found nothing and waits
	feed.Drain()
	r := <-done
	if r.Err != nil || r.Page.Cursor != 0 || len(r.Page.Entries) != 0 {
		t.Fatalf("drained long poll = %+v, %v; want an empty page at cursor 0", r.Page, r.Err)
	}
	feed.Drain() // twice is harmless
	if r := <-revocationtest.LongPoll(ctx, feed, 0, time.Hour); r.Err != nil || r.Page.Cursor != 0 {
		t.Fatalf("long poll after Drain = %+v, %v", r.Page, r.Err)
	}
}
