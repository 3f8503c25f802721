package event

import (
	"context"
	"net/netip"
)

// Request is the request an event happens during, as the HTTP layer puts it
// into the context (WithRequest): its id (X-Request-Id, echoed to the
// caller) and the client it came from.
type Request struct {
	ID        string
	IP        netip.Addr
	UserAgent string
}

type requestKey struct{}

// WithRequest returns ctx carrying r, so that events published under it
// name the request (Event.FromContext).
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request ctx carries, if any.
func RequestFrom(ctx context.Context) (*Request, bool) {
	r, ok := ctx.Value(requestKey{}).(*Request)
	return r, ok && r != nil
}

// FromContext returns e with the request in ctx filled in: its id, and the
// client's address and user agent where the publisher left them unset (a
// domain package that knows the use, such as session.Use, sets its own).
// So every security event published while serving a request names who
// caused it, even when the publisher was handed only a context.
func (e Event) FromContext(ctx context.Context) Event {
	r, ok := RequestFrom(ctx)
	if !ok {
		return e
	}
	if e.RequestID == "" {
		e.RequestID = r.ID
	}
	if !e.IP.IsValid() {
		e.IP = r.IP
	}
	if e.UserAgent == "" {
		e.UserAgent = r.UserAgent
	}
	return e
}
