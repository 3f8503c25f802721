package store

import (
	"context"
	"time"
)

// Alert is one stored firing of a detection rule (package alert). Seq
// orders alerts for paging; ID is the alert's UUID. Evidence is a JSON
// object that never holds a token, password, secret or code.
type Alert struct {
	Seq       int64
	ID        string
	At        time.Time
	Rule      string
	Severity  string
	Action    string
	UserID    string
	SessionID string
	ClientID  string
	IP        string
	Evidence  []byte
}

// AlertQuery selects alerts, newest first. Zero fields do not filter.
type AlertQuery struct {
	UserID, SessionID, Rule, Action, Severity string
	Since, Until                              time.Time // At in [Since, Until)
	Before                                    int64     // Seq below this (the paging cursor)
	Limit                                     int       // required, > 0
}

// Delivery states. A delivery is pending until it is delivered or given
// up on (failed); only pending ones are claimed.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one outbox row: alert AlertID to be sent to the
// configured webhook named Webhook. ID is the Standard Webhooks message id
// (the webhook-id header), the same on every attempt, so receivers can
// drop duplicates. Body is the exact JSON payload, signed anew on each
// attempt (the signature covers the attempt's timestamp).
type WebhookDelivery struct {
	ID          string
	AlertID     string
	Webhook     string
	Body        []byte
	CreatedAt   time.Time
	Status      string // DeliveryPending, DeliveryDelivered or DeliveryFailed
	Attempts    int
	NextAt      time.Time // when a pending delivery is next due
	LeaseHolder string    // the node sending it now, while LeaseUntil is ahead
	LeaseUntil  time.Time
	LastError   string
	UpdatedAt   time.Time
}

// DeliveryAttempt is one entry of the delivery log: one try to send
// delivery DeliveryID. Error never holds a secret (no URL, no header).
type DeliveryAttempt struct {
	Seq        int64
	DeliveryID string
	AlertID    string
	Webhook    string
	Attempt    int // 1 for the first
	At         time.Time
	StatusCode int // the HTTP status; 0 when no response came
	Error      string
	Duration   time.Duration
	Outcome    string // the delivery's status after this attempt
}

// DeliveryUpdate is what an attempt changes on its delivery: its new
// Status, when a pending one is next due, and its last error.
type DeliveryUpdate struct {
	Status    string
	NextAt    time.Time
	LastError string
}

// DeliveryQuery selects delivery log entries, newest first. Zero fields
// do not filter.
type DeliveryQuery struct {
	AlertID string
	Outcome string // a Delivery* state
	Before  int64  // Seq below this (the paging cursor)
	Limit   int    // required, > 0
}

// Alerts stores alerts and their webhook outbox. Primitives only: package
// alert decides which webhooks get an alert, the retry schedule and when
// to give up.
type Alerts interface {
	// PutAlert stores a (Seq assigned) and its outbox rows ds in one
	// transaction, so an alert is never stored without its deliveries.
	PutAlert(ctx context.Context, a Alert, ds []WebhookDelivery) error
	// ListAlerts returns the alerts q selects, newest (highest Seq) first.
	ListAlerts(ctx context.Context, q AlertQuery) ([]Alert, error)
	// ClaimDeliveries leases up to n pending deliveries due at now (NextAt
	// ≤ now) whose lease has run out to holder until now+lease, and
	// returns them, earliest due first. MUST be atomic: under normal
	// operation two claimers never get the same row while its lease runs
	// (PostgreSQL: FOR UPDATE SKIP LOCKED). A holder that dies leaves its
	// rows to be claimed again when the lease ends: at least once.
	ClaimDeliveries(ctx context.Context, holder string, now time.Time, lease time.Duration, n int) ([]WebhookDelivery, error)
	// RecordAttempt appends a to the delivery log and, if the delivery is
	// still pending, applies u to it: Attempts grows by one, the lease is
	// released. One transaction. ErrNotFound if there is no such delivery.
	RecordAttempt(ctx context.Context, a DeliveryAttempt, u DeliveryUpdate) error
	// DeliveryAttempts returns the log entries q selects, newest first.
	DeliveryAttempts(ctx context.Context, q DeliveryQuery) ([]DeliveryAttempt, error)
	// WebhookDelivery returns the outbox row id, or ErrNotFound.
	WebhookDelivery(ctx context.Context, id string) (WebhookDelivery, error)
	// CountPendingDeliveries counts the deliveries not yet delivered or
	// given up on.
	CountPendingDeliveries(ctx context.Context) (int, error)
	// PruneAlerts deletes, in one transaction, finished (delivered or
	// failed) deliveries last updated before cutoff, log entries before
	// cutoff, and alerts before cutoff with no pending delivery, and
	// returns how many alerts it deleted.
	PruneAlerts(ctx context.Context, cutoff time.Time) (int, error)
}
