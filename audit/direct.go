package audit

import (
	"context"
	"log/slog"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store"
)

// Direct is a subscriber that appends each event's record at once, on the
// publisher's goroutine: for the command line, whose few admin actions are
// not a hot path and whose process ends right after them.
type Direct struct {
	st    Appender
	chain *Chain
	node  string
	log   *slog.Logger
}

// NewDirect returns a synchronous audit subscriber.
func NewDirect(st Appender, chain *Chain, node string, log *slog.Logger) *Direct {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Direct{st: st, chain: chain, node: node, log: log}
}

// Publish appends e's record; a failure is logged (an event cannot fail
// the operation it reports).
func (d *Direct) Publish(ctx context.Context, e event.Event) {
	if e.Kind == event.SessionValidated {
		return // the command line validates nothing worth a record
	}
	if err := d.st.AppendAudit(context.WithoutCancel(ctx), []store.AuditRecord{Record(e, d.node)}, d.chain.Seal); err != nil {
		d.log.Error("audit record not written", "event", e.Kind.String(), "err", err)
	}
}
