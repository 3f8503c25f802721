package sqlrow

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// AlertCols are the alerts columns in the order Alert scans them; the
// insert leaves out seq (AlertInsertCols, AlertArgs).
const (
	AlertCols       = "seq, " + AlertInsertCols
	AlertInsertCols = "id, at, rule, severity, action, user_id, session_id, client_id, ip, evidence"
)

// Alert scans one alerts row.
func Alert(row Scanner) (store.Alert, error) {
	var a store.Alert
	var at int64
	var ev string
	if err := row.Scan(&a.Seq, &a.ID, &at, &a.Rule, &a.Severity, &a.Action, &a.UserID, &a.SessionID, &a.ClientID, &a.IP, &ev); err != nil {
		return store.Alert{}, err
	}
	a.At, a.Evidence = FromMicros(at), []byte(ev)
	return a, nil
}

// AlertArgs are a's values in AlertInsertCols order.
func AlertArgs(a store.Alert) []any {
	ev := string(a.Evidence)
	if ev == "" {
		ev = "{}"
	}
	return []any{a.ID, Micros(a.At), a.Rule, a.Severity, a.Action, a.UserID, a.SessionID, a.ClientID, a.IP, ev}
}

// DeliveryCols are the webhook_deliveries columns in the order Delivery
// scans and DeliveryArgs lists them.
const DeliveryCols = "id, alert_id, webhook, body, created_at, status, attempts, next_at, lease_holder, lease_until, last_error, updated_at"

// Delivery scans one webhook_deliveries row.
func Delivery(row Scanner) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var created, next, lease, updated, attempts int64
	if err := row.Scan(&d.ID, &d.AlertID, &d.Webhook, &d.Body, &created, &d.Status, &attempts, &next, &d.LeaseHolder, &lease, &d.LastError, &updated); err != nil {
		return store.WebhookDelivery{}, err
	}
	d.Attempts = int(attempts)
	d.CreatedAt, d.NextAt, d.UpdatedAt = FromMicros(created), FromMicros(next), FromMicros(updated)
	if lease != 0 {
		d.LeaseUntil = FromMicros(lease)
	}
	return d, nil
}

// DeliveryArgs are d's values in DeliveryCols order; a new row's status
// is pending when d leaves it empty.
func DeliveryArgs(d store.WebhookDelivery) []any {
	status := d.Status
	if status == "" {
		status = store.DeliveryPending
	}
	var lease int64
	if !d.LeaseUntil.IsZero() {
		lease = Micros(d.LeaseUntil)
	}
	updated := d.UpdatedAt
	if updated.IsZero() {
		updated = d.CreatedAt
	}
	return []any{d.ID, d.AlertID, d.Webhook, d.Body, Micros(d.CreatedAt), status, int64(d.Attempts), Micros(d.NextAt), d.LeaseHolder, lease, d.LastError, Micros(updated)}
}

// AttemptCols are the webhook_attempts columns in the order Attempt scans
// them; the insert leaves out seq (AttemptInsertCols, AttemptArgs).
const (
	AttemptCols       = "seq, " + AttemptInsertCols
	AttemptInsertCols = "delivery_id, alert_id, webhook, attempt, at, status_code, error, duration_us, outcome"
)

// Attempt scans one webhook_attempts row.
func Attempt(row Scanner) (store.DeliveryAttempt, error) {
	var a store.DeliveryAttempt
	var attempt, at, code, dur int64
	if err := row.Scan(&a.Seq, &a.DeliveryID, &a.AlertID, &a.Webhook, &attempt, &at, &code, &a.Error, &dur, &a.Outcome); err != nil {
		return store.DeliveryAttempt{}, err
	}
	a.Attempt, a.StatusCode = int(attempt), int(code)
	a.At, a.Duration = FromMicros(at), time.Duration(dur)*time.Microsecond
	return a, nil
}

// AttemptArgs are a's values in AttemptInsertCols order.
func AttemptArgs(a store.DeliveryAttempt) []any {
	return []any{a.DeliveryID, a.AlertID, a.Webhook, int64(a.Attempt), Micros(a.At), int64(a.StatusCode), a.Error, a.Duration.Microseconds(), a.Outcome}
}

// where collects conditions, each with one value, numbering their
// placeholders: cond's "?" becomes $n.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, v any) {
	w.args = append(w.args, v)
	w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// AlertQuery is the SELECT of q's alerts, newest first ($n placeholders).
func AlertQuery(q store.AlertQuery) (string, []any) {
	w := &where{}
	for _, f := range []struct{ col, v string }{
		{"user_id", q.UserID}, {"session_id", q.SessionID}, {"rule", q.Rule}, {"action", q.Action}, {"severity", q.Severity},
	} {
		if f.v != "" {
			w.add(f.col+" = ?", f.v)
		}
	}
	if !q.Since.IsZero() {
		w.add("at >= ?", Micros(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("at < ?", Micros(q.Until))
	}
	if q.Before > 0 {
		w.add("seq < ?", q.Before)
	}
	return "SELECT " + AlertCols + " FROM alerts" + w.String() + " ORDER BY seq DESC LIMIT " + strconv.Itoa(max(q.Limit, 1)), w.args
}

// AttemptQuery is the SELECT of q's delivery log entries, newest first.
func AttemptQuery(q store.DeliveryQuery) (string, []any) {
	w := &where{}
	if q.AlertID != "" {
		w.add("alert_id = ?", q.AlertID)
	}
	if q.Outcome != "" {
		w.add("outcome = ?", q.Outcome)
	}
	if q.Before > 0 {
		w.add("seq < ?", q.Before)
	}
	return "SELECT " + AttemptCols + " FROM webhook_attempts" + w.String() + " ORDER BY seq DESC LIMIT " + strconv.Itoa(max(q.Limit, 1)), w.args
}

// SortDue orders claimed deliveries earliest due first (RETURNING keeps
// no order).
func SortDue(ds []store.WebhookDelivery) {
	slices.SortFunc(ds, func(a, b store.WebhookDelivery) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), cmp.Compare(a.ID, b.ID))
	})
}

// The outbox statements both backends run ($n placeholders; SQLite runs
// them through SQLite). The claim differs: PostgreSQL's locks rows it
// skips, SQLite's runs under the single writer.
const (
	InsertAlertSQL    = "INSERT INTO alerts (" + AlertInsertCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
	InsertDeliverySQL = "INSERT INTO webhook_deliveries (" + DeliveryCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
	InsertAttemptSQL  = "INSERT INTO webhook_attempts (" + AttemptInsertCols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
	DeliverySQL       = "SELECT " + DeliveryCols + " FROM webhook_deliveries WHERE id = $1"
	DeliveryCountSQL  = "SELECT count(*) FROM webhook_deliveries WHERE id = $1"
	PendingCountSQL   = "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
	// RecordAttemptSQL applies a DeliveryUpdate (RecordAttemptArgs) to a
	// delivery still pending, and releases its lease.
	RecordAttemptSQL = `UPDATE webhook_deliveries SET status = $1, next_at = $2, last_error = $3, attempts = attempts + 1,
		lease_holder = '', lease_until = 0, updated_at = $4 WHERE id = $5 AND status = 'pending'`
)

// RecordAttemptArgs are RecordAttemptSQL's arguments.
func RecordAttemptArgs(a store.DeliveryAttempt, u store.DeliveryUpdate) []any {
	return []any{u.Status, Micros(u.NextAt), u.LastError, Micros(a.At), a.DeliveryID}
}

// PruneAlertsSQL are PruneAlerts' deletes, in order, each of what is older
// than the cutoff ($1); the last one's count is the alerts deleted.
var PruneAlertsSQL = []string{
	"DELETE FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1",
	"DELETE FROM webhook_attempts WHERE at < $1",
	`DELETE FROM alerts WHERE at < $1
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.alert_id = alerts.id AND d.status = 'pending')`,
}
