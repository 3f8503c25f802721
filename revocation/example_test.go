package revocation_test

import (
	"context"
	"fmt"

	"github.com/tessera-auth/tessera/revocation"
)

// A waiter takes the channel before it reads the feed, so a revocation
// committed between its read and its wait still wakes it.
func ExampleLocal() {
	n := revocation.NewLocal()
	changed := n.Changed() // before reading the feed
	// ... read the feed: nothing new ...
	n.Notify(context.Background()) // another goroutine commits a revocation
	select {
	case <-changed:
		fmt.Println("woken: read the feed again")
	default:
		fmt.Println("still waiting")
	}
	// Output: woken: read the feed again
}
