package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store"
)

// Store is what the service needs of the store.
type Store interface {
	PutAlert(ctx context.Context, a store.Alert, ds []store.WebhookDelivery) error
}

// Publisher receives the AlertRaised event (the audit log records it).
type Publisher interface {
	Publish(ctx context.Context, e event.Event)
}

// Config configures a Service. Only Store is required.
type Config struct {
	Store    Store
	Webhooks []Webhook
	Events   Publisher // nil: no event
	// Counted is called once per stored alert, for the
	// tessera_alerts_total metric; nil: not counted.
	Counted func(rule, action, severity string)
	// Queued is called after an alert with deliveries is stored, to wake
	// the dispatcher; nil: it finds them at its next poll.
	Queued func()
	Now    func() time.Time // nil: time.Now
}

// Service implements detect.Alerts. Safe for concurrent use.
type Service struct{ c Config }

var _ detect.Alerts = (*Service)(nil)

// NewService returns a service over c.
func NewService(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Service{c: c}
}

// Raise gives a an id (a UUID), stores it with one outbox row per webhook
// that wants it in one transaction, then publishes event.AlertRaised and
// counts it. It returns the alert as stored. Nothing is published for an
// alert the store refused: the audit log records only alerts that exist.
func (s *Service) Raise(ctx context.Context, a detect.Alert) (detect.Alert, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return detect.Alert{}, fmt.Errorf("alert: id: %w", err)
	}
	now := s.c.Now()
	a.ID = id.String()
	if a.At.IsZero() {
		a.At = now
	}
	a.At = a.At.UTC().Truncate(time.Microsecond) // the precision stored
	ev := evidence(a)
	evJSON, err := json.Marshal(ev)
	if err != nil {
		return detect.Alert{}, fmt.Errorf("alert: evidence: %w", err)
	}
	rec := store.Alert{ID: a.ID, At: a.At, Rule: a.Rule, Severity: a.Severity, Action: string(a.Action),
		UserID: a.UserID, SessionID: a.SessionID, ClientID: a.ClientID, Evidence: evJSON}
	if a.IP.IsValid() {
		rec.IP = a.IP.String()
	}
	var ds []store.WebhookDelivery
	for _, w := range s.c.Webhooks {
		if !w.Wants(a) {
			continue
		}
		b, err := body(a, ev)
		if err != nil {
			return detect.Alert{}, fmt.Errorf("alert: payload: %w", err)
		}
		mid, err := uuid.NewV7()
		if err != nil {
			return detect.Alert{}, fmt.Errorf("alert: message id: %w", err)
		}
		// The message id is the receivers' idempotency key: kept on every
		// retry. A UUID holds no '.', which the signed content uses as its
		// separator.
		ds = append(ds, store.WebhookDelivery{ID: "msg_" + mid.String(), AlertID: a.ID, Webhook: w.Name, Body: b,
			CreatedAt: now, Status: store.DeliveryPending, NextAt: now})
	}
	if err := s.c.Store.PutAlert(ctx, rec, ds); err != nil {
		return detect.Alert{}, fmt.Errorf("alert: store: %w", err)
	}
	if s.c.Events != nil {
		s.c.Events.Publish(ctx, event.Event{Kind: event.AlertRaised, At: a.At, Reason: a.Rule, Action: string(a.Action),
			UserID: a.UserID, SessionID: a.SessionID, ClientID: a.ClientID, IP: a.IP})
	}
	if s.c.Counted != nil {
		s.c.Counted(a.Rule, string(a.Action), a.Severity)
	}
	if len(ds) > 0 && s.c.Queued != nil {
		s.c.Queued()
	}
	return a, nil
}
