package revocation_test

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/revocation/revocationtest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// The wake-up tests live outside the package so that they can wait on
// revocationtest, which imports it.

// watchdog only turns a hang into a failure: every wait it guards ends at
// once when the code under test is right, and never when it is wrong.
const watchdog = 20 * time.Second

// noEvictions is a node with no session cache.
type noEvictions struct{}

func (noEvictions) Evict(...string) {}
func (noEvictions) EvictAll()       {}

// TestLongPollWakesOnNotify: with a poll bound no test outlives, only the
// notification of a committed revocation can end a long poll.
func TestLongPollWakesOnNotify(t *testing.T) {
	f := sqlitetest.NewFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), watchdog)
	defer cancel()
	fl := revocation.NewFollower(f.Store, noEvictions{}, revocation.Config{Poll: time.Second, Now: f.Clock.Now})
	st := revocationtest.NewReadSignal(f.Store)
	feed := revocation.NewFeed(st, fl, revocation.FeedConfig{AccessTTL: 15 * time.Minute, Poll: time.Hour, Now: f.Clock.Now})
	done := revocationtest.LongPoll(ctx, feed, 0, time.Hour)
	st.Wait(t, ctx) // the poll found nothing and waits
	if err := fl.Deny(ctx, "jti-1", f.User.ID, f.Clock.Now().Add(time.Minute), "token_revoked"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Err != nil {
		t.Fatalf("long poll not woken by the revocation: %v", r.Err)
	}
	if len(r.Page.Entries) != 1 || r.Page.Entries[0].JTI != "jti-1" {
		t.Fatalf("long poll = %+v", r.Page)
	}
}

// TestFollowerWakesOnNotification: a running follower reads the feed when
// another process notifies, without waiting for its poll.
func TestFollowerWakesOnNotification(t *testing.T) {
	f := sqlitetest.NewFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), watchdog)
	defer cancel()
	bus := revocation.NewLocal() // stands in for LISTEN/NOTIFY between two nodes
	a := revocation.NewFollower(f.Store, noEvictions{}, revocation.Config{Poll: time.Second, Notifier: bus, Now: f.Clock.Now})
	bst := revocationtest.NewReadSignal(f.Store)
	b := revocation.NewFollower(bst, noEvictions{}, revocation.Config{Poll: time.Hour, Notifier: bus, Now: f.Clock.Now})
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { done <- b.Run(runCtx) }()
	defer func() { stop(); <-done }()
	// Run has read the feed once and waits; with an hour's poll, only
	// the notification can wake it.
	bst.Wait(t, ctx)

	woken := b.Changed()
	if err := a.Deny(ctx, "jti-1", f.User.ID, f.Clock.Now().Add(time.Hour), "revoked"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-ctx.Done():
		t.Fatal("a notified revocation did not wake the other node's follower")
	}
	if d, err := b.Denied(ctx, "jti-1"); !d || err != nil {
		t.Fatalf("the woken follower did not read the denial: %v, %v", d, err)
	}
}

// TestLongPollSkipsEvictOnly: an entry that revokes nothing (a step-up
// mark) wakes a long poll, which reads past it and goes on waiting; the
// answer never carries it, or a verifier would take it for a revocation.
func TestLongPollSkipsEvictOnly(t *testing.T) {
	f := sqlitetest.NewFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), watchdog)
	defer cancel()
	now := f.Clock.Now()
	s := store.Session{ID: "s1", UserID: f.User.ID, CreatedAt: now, AuthTime: now,
		ExpiresAt: now.Add(time.Hour), LastSeenAt: now, IdleTimeout: time.Hour, AAL: 1}
	s.TokenHash[0] = 1
	if _, err := f.Store.CreateSession(ctx, s, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fl := revocation.NewFollower(f.Store, noEvictions{}, revocation.Config{Poll: time.Second, Now: f.Clock.Now})
	st := revocationtest.NewReadSignal(f.Store)
	feed := revocation.NewFeed(st, fl, revocation.FeedConfig{AccessTTL: 15 * time.Minute, Poll: time.Hour, Now: f.Clock.Now})
	done := revocationtest.LongPoll(ctx, feed, 0, time.Hour)
	st.Wait(t, ctx)
	if _, err := f.Store.MarkStepUp(ctx, "s1", now, "new_device"); err != nil {
		t.Fatal(err)
	}
	fl.Notify(ctx)
	st.Wait(t, ctx) // woken, it read the mark's entry
	if err := fl.Deny(ctx, "jti-1", f.User.ID, now.Add(time.Minute), "token_revoked"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if len(r.Page.Entries) != 1 || r.Page.Entries[0].JTI != "jti-1" {
		t.Fatalf("long poll = %+v, want the denial alone", r.Page)
	}
	last, _ := f.Store.LastRevocationSeq(ctx)
	if r.Page.Cursor != last {
		t.Fatalf("cursor %d, want %d (past the mark's entry)", r.Page.Cursor, last)
	}
	// Neither the window nor a plain read serves it.
	for name, read := range map[string]func() (revocation.Page, error){
		"Window": func() (revocation.Page, error) { return feed.Window(ctx) },
		"Read":   func() (revocation.Page, error) { return feed.Read(ctx, 0, 0) },
	} {
		p, err := read()
		if err != nil || len(p.Entries) != 1 || p.Entries[0].SessionID != "" || p.Cursor != last {
			t.Fatalf("%s = %+v, %v", name, p, err)
		}
	}
}
