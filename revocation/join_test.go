package revocation

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

type failing struct{ *Local }

func (failing) Notify(context.Context) error { return errors.New("down") }

// TestJoin: a joined notifier tells every member, and its Changed closes at
// a notification delivered by any member.
func TestJoin(t *testing.T) {
	ctx := context.Background()
	a, b := NewLocal(), NewLocal()
	j := Join(a, nil, b)
	for i, member := range []*Local{a, b} {
		ch := j.Changed()
		if closed(ch) {
			t.Fatal("closed before any notification")
		}
		member.Notify(ctx) // as a remote node's message would
		<-ch               // blocks (and the test times out) if the member is not heard
		if closed(j.Changed()) {
			t.Fatalf("member %d: a channel taken after the notification is already closed", i)
		}
	}
	ca, cb := a.Changed(), b.Changed()
	if err := j.Notify(ctx); err != nil {
		t.Fatal(err)
	}
	if !closed(ca) || !closed(cb) {
		t.Fatal("Notify did not reach every member")
	}

	// One member failing does not keep the others from hearing.
	c := NewLocal()
	j = Join(failing{NewLocal()}, c)
	cc := c.Changed()
	if err := j.Notify(ctx); err == nil {
		t.Fatal("a member's error was dropped")
	}
	if !closed(cc) {
		t.Fatal("a failing member stopped the notification")
	}
	if Join(c) != Notifier(c) {
		t.Fatal("Join of one is not that one")
	}
}

// TestJoinWaitsWithOneGoroutine: a follower takes Changed at every poll,
// mostly without a notification in between; that must not leave a
// goroutine behind each time.
func TestJoinWaitsWithOneGoroutine(t *testing.T) {
	j := Join(NewLocal(), NewLocal())
	j.Changed()
	before := runtime.NumGoroutine()
	for range 1000 {
		j.Changed()
	}
	if n := runtime.NumGoroutine() - before; n > 0 {
		t.Fatalf("%d goroutines more after 1000 calls without a notification", n)
	}
}
