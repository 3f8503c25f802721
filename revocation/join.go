package revocation

import (
	"context"
	"errors"
)

// Join returns a Notifier over several: Notify tells every one of ns, and
// Changed closes at a change any of them reports. A node whose store
// carries notifications (PostgreSQL LISTEN/NOTIFY) and that also has a
// faster fan-out (Redis pub/sub) joins both, so that either one failing
// leaves the other, and the feed poll behind both. It relays until ctx
// ends.
func Join(ctx context.Context, ns ...Notifier) Notifier {
	j := &joined{ns: ns, local: NewLocal()}
	for _, n := range ns {
		// Taken here, so that a change reported once Join returns is relayed.
		go j.relay(ctx, n, n.Changed())
	}
	return j
}

type joined struct {
	ns    []Notifier
	local *Local
}

// relay wakes the joined waiters at each change n reports. The next
// channel is taken before the waiters wake: a change n reports while
// they are being woken then closes it, and is not lost.
func (j *joined) relay(ctx context.Context, n Notifier, ch <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
		ch = n.Changed()
		j.local.Notify(ctx)
	}
}

// Notify tells every joined notifier; its error joins theirs.
func (j *joined) Notify(ctx context.Context) error {
	var errs []error
	for _, n := range j.ns {
		if err := n.Notify(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Changed returns a channel closed at the next change any notifier reports.
func (j *joined) Changed() <-chan struct{} { return j.local.Changed() }
