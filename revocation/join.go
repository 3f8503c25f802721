package revocation

import (
	"context"
	"errors"
	"reflect"
	"sync"
)

// Join returns a Notifier over several: Notify tells each (their errors
// joined; one failing does not stop the others), and Changed closes at the
// first notification any of them delivers. A node can so run Redis pub/sub
// and PostgreSQL LISTEN/NOTIFY together, either one being enough to wake it.
// Nil notifiers are skipped; Join of one returns it.
func Join(ns ...Notifier) Notifier {
	var all []Notifier
	for _, n := range ns {
		if n != nil {
			all = append(all, n)
		}
	}
	switch len(all) {
	case 0:
		return NewLocal()
	case 1:
		return all[0]
	}
	return &joined{ns: all}
}

type joined struct {
	ns []Notifier

	mu sync.Mutex
	ch chan struct{} // the current generation; closed at its first notification
}

func (j *joined) Notify(ctx context.Context) error {
	var errs []error
	for _, n := range j.ns {
		if err := n.Notify(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Changed returns the current generation's channel. A generation takes
// every member's channel when it starts and is closed by one goroutine at
// the first of them to close; so a caller is woken by any notification
// after its call, and at most one goroutine waits at a time.
func (j *joined) Changed() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ch != nil {
		select {
		case <-j.ch:
		default:
			return j.ch
		}
	}
	ch := make(chan struct{})
	cases := make([]reflect.SelectCase, len(j.ns))
	for i, n := range j.ns {
		cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(n.Changed())}
	}
	j.ch = ch
	go func() {
		reflect.Select(cases)
		close(ch)
	}()
	return ch
}
