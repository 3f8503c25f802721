package storetest

import (
	"errors"
	"sync"
	"testing"
)

// concurrently runs op n times at once (i is the call's number) and
// returns how many calls succeeded. A call may fail only with lost, the
// error of one that lost the race; any other error fails t.
func concurrently(t *testing.T, n int, lost error, op func(i int) error) int {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = op(i) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, lost):
			t.Errorf("call %d of %d: %v, want nil or %v", i+1, n, err, lost)
		}
	}
	return ok
}
