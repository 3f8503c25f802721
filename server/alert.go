package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tessera-auth/tessera/store"
)

// AlertReader reads alerts and the webhook delivery log for the admin API.
type AlertReader interface {
	ListAlerts(ctx context.Context, q store.AlertQuery) ([]store.Alert, error)
	DeliveryAttempts(ctx context.Context, q store.DeliveryQuery) ([]store.DeliveryAttempt, error)
}

// WithAlerts serves GET /admin/v1/alerts and GET
// /admin/v1/webhooks/deliveries from r.
func (s *Server) WithAlerts(r AlertReader) *Server {
	s.alerts = r
	return s
}

func (s *Server) mountAdminAlerts(mux *http.ServeMux) {
	if s.alerts != nil {
		mux.Handle("GET /admin/v1/alerts", s.handle(s.handleAdminAlerts))
		mux.Handle("GET /admin/v1/webhooks/deliveries", s.handle(s.handleAdminDeliveries))
	}
}

// AlertJSON is one alert on the wire (the admin API and `tessera alerts
// list`).
type AlertJSON struct {
	ID        string          `json:"id"`
	At        time.Time       `json:"at"`
	Rule      string          `json:"rule"`
	Severity  string          `json:"severity"`
	Action    string          `json:"action"`
	UserID    string          `json:"user_id,omitempty"`
	SessionID string          `json:"session_id,omitempty"`
	ClientID  string          `json:"client_id,omitempty"`
	IP        string          `json:"ip,omitempty"`
	Evidence  json.RawMessage `json:"evidence"`
}

// AlertToJSON renders a.
func AlertToJSON(a store.Alert) AlertJSON {
	ev := json.RawMessage(a.Evidence)
	if !json.Valid(ev) {
		ev = json.RawMessage("{}")
	}
	return AlertJSON{ID: a.ID, At: a.At, Rule: a.Rule, Severity: a.Severity, Action: a.Action,
		UserID: a.UserID, SessionID: a.SessionID, ClientID: a.ClientID, IP: a.IP, Evidence: ev}
}

// DeliveryJSON is one delivery log entry on the wire.
type DeliveryJSON struct {
	DeliveryID string    `json:"delivery_id"` // the webhook-id header
	AlertID    string    `json:"alert_id"`
	Webhook    string    `json:"webhook"`
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS float64   `json:"duration_ms"`
	Outcome    string    `json:"outcome"` // the delivery's status after it: pending, delivered or failed
}

// pageQuery reads limit (1..1000, default 100) and cursor (a positive
// integer: the next_cursor of the page before): the paging of every admin
// listing (audit records, alerts, deliveries).
func pageQuery(r *http.Request) (limit int, before int64, err error) {
	v := r.URL.Query()
	limit = 100
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return 0, 0, badParam("limit (1 to 1000)")
		}
		limit = n
	}
	if c := v.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			return 0, 0, badParam("cursor")
		}
		before = n
	}
	return limit, before, nil
}

// timeQuery reads since and until (RFC 3339); either may be left out.
func timeQuery(r *http.Request) (since, until time.Time, err error) {
	v := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &since}, {"until", &until}} {
		if t := v.Get(p.name); t != "" {
			at, err := time.Parse(time.RFC3339Nano, t)
			if err != nil {
				return time.Time{}, time.Time{}, badParam(p.name)
			}
			*p.dst = at
		}
	}
	return since, until, nil
}

// textParams reads the named text filters of r into the pointers and
// refuses one PostgreSQL cannot compare (a NUL byte, invalid UTF-8) or
// longer than any id or name (256 bytes): 400, not the 503 of a query
// the store refused.
func textParams(r *http.Request, ps map[string]*string) error {
	v := r.URL.Query()
	for name, dst := range ps {
		t := v.Get(name)
		if len(t) > 256 || !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
			return badParam(name)
		}
		*dst = t
	}
	return nil
}

func badParam(name string) error {
	return newProblem(http.StatusBadRequest, "invalid_request", "Bad query parameter "+name+".")
}

// handleAdminAlerts lists alerts, newest first, filtered by user_id,
// session_id, rule, action, severity, since and until (RFC 3339), and
// paged by cursor.
func (s *Server) handleAdminAlerts(w http.ResponseWriter, r *http.Request) error {
	var q store.AlertQuery
	if err := textParams(r, map[string]*string{"user_id": &q.UserID, "session_id": &q.SessionID, "rule": &q.Rule,
		"action": &q.Action, "severity": &q.Severity}); err != nil {
		return err
	}
	switch q.Severity {
	case "", "low", "medium", "high":
	default:
		return badParam("severity (low, medium or high)")
	}
	switch q.Action {
	case "", "log", "alert", "step_up", "revoke_session", "revoke_user":
	default:
		return badParam("action")
	}
	var err error
	if q.Since, q.Until, err = timeQuery(r); err != nil {
		return err
	}
	if q.Limit, q.Before, err = pageQuery(r); err != nil {
		return err
	}
	as, err := s.alerts.ListAlerts(r.Context(), q)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: alerts: %w", err))
	}
	out := struct {
		Alerts     []AlertJSON `json:"alerts"`
		NextCursor string      `json:"next_cursor,omitempty"`
	}{Alerts: make([]AlertJSON, 0, len(as))}
	for _, a := range as {
		out.Alerts = append(out.Alerts, AlertToJSON(a))
	}
	if len(as) == q.Limit && as[len(as)-1].Seq > 1 {
		out.NextCursor = strconv.FormatInt(as[len(as)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleAdminDeliveries lists the webhook delivery log, newest first,
// filtered by alert_id and status (the delivery's status after the
// attempt: pending, delivered or failed), and paged by cursor.
func (s *Server) handleAdminDeliveries(w http.ResponseWriter, r *http.Request) error {
	var q store.DeliveryQuery
	if err := textParams(r, map[string]*string{"alert_id": &q.AlertID, "status": &q.Outcome}); err != nil {
		return err
	}
	switch q.Outcome {
	case "", store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed:
	default:
		return badParam("status (pending, delivered or failed)")
	}
	var err error
	if q.Limit, q.Before, err = pageQuery(r); err != nil {
		return err
	}
	ds, err := s.alerts.DeliveryAttempts(r.Context(), q)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: webhook deliveries: %w", err))
	}
	out := struct {
		Deliveries []DeliveryJSON `json:"deliveries"`
		NextCursor string         `json:"next_cursor,omitempty"`
	}{Deliveries: make([]DeliveryJSON, 0, len(ds))}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, DeliveryJSON{DeliveryID: d.DeliveryID, AlertID: d.AlertID, Webhook: d.Webhook,
			Attempt: d.Attempt, At: d.At, StatusCode: d.StatusCode, Error: d.Error,
			DurationMS: float64(d.Duration.Microseconds()) / 1000, Outcome: d.Outcome})
	}
	if len(ds) == q.Limit && ds[len(ds)-1].Seq > 1 {
		out.NextCursor = strconv.FormatInt(ds[len(ds)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
