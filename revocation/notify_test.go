package revocation

import (
	"context"
	"testing"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestLocal: a channel from Changed closes at the next Notify, and a
// channel taken after it waits for the one after.
func TestLocal(t *testing.T) {
	n := NewLocal()
	before := n.Changed()
	if closed(before) {
		t.Fatal("closed before any notification")
	}
	if err := n.Notify(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !closed(before) {
		t.Fatal("not closed by Notify")
	}
	if closed(n.Changed()) {
		t.Fatal("a channel taken after Notify is already closed")
	}
}
