package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// AuditReader reads the audit log for the admin API.
type AuditReader interface {
	AuditRecords(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error)
}

// WithAudit serves GET /admin/v1/audit from r.
func (s *Server) WithAudit(r AuditReader) *Server {
	s.audit = r
	return s
}

func (s *Server) mountAdminAudit(mux *http.ServeMux) {
	if s.audit != nil {
		mux.Handle("GET /admin/v1/audit", s.handle(s.handleAdminAudit))
	}
}

// AuditRecordJSON is one audit record on the wire (the admin API and
// `tessera audit export`): the stored record, MAC in hex.
type AuditRecordJSON struct {
	Seq       int64           `json:"seq"`
	At        time.Time       `json:"at"`
	Event     string          `json:"event"`
	Actor     string          `json:"actor"`
	UserID    string          `json:"user_id,omitempty"`
	SessionID string          `json:"session_id,omitempty"`
	ClientID  string          `json:"client_id,omitempty"`
	IP        string          `json:"ip,omitempty"`
	UserAgent string          `json:"user_agent,omitempty"`
	Outcome   string          `json:"outcome"`
	Details   json.RawMessage `json:"details"`
	Node      string          `json:"node"`
	MAC       string          `json:"mac"`
}

// AuditJSON renders r.
func AuditJSON(r store.AuditRecord) AuditRecordJSON {
	d := json.RawMessage(r.Details)
	if !json.Valid(d) {
		d = json.RawMessage("{}")
	}
	return AuditRecordJSON{Seq: r.Seq, At: r.At, Event: r.Event, Actor: r.Actor, UserID: r.UserID, SessionID: r.SessionID,
		ClientID: r.ClientID, IP: r.IP, UserAgent: r.UserAgent, Outcome: r.Outcome, Details: d, Node: r.Node, MAC: fmt.Sprintf("%x", r.MAC)}
}

// handleAdminAudit lists audit records, newest first, filtered by
// user_id, session_id, event, since and until (RFC 3339), limit (1..1000,
// default 100), and paged by cursor: the next_cursor of the page before.
func (s *Server) handleAdminAudit(w http.ResponseWriter, r *http.Request) error {
	q := store.AuditQuery{Desc: true}
	if err := textParams(r, map[string]*string{"user_id": &q.UserID, "session_id": &q.SessionID, "event": &q.Event}); err != nil {
		return err
	}
	var err error
	if q.Since, q.Until, err = timeQuery(r); err != nil {
		return err
	}
	if q.Limit, q.Before, err = pageQuery(r); err != nil {
		return err
	}
	recs, err := s.audit.AuditRecords(r.Context(), q)
	if err != nil {
		return errUnavailable().because(fmt.Errorf("admin: audit records: %w", err))
	}
	out := struct {
		Records    []AuditRecordJSON `json:"records"`
		NextCursor string            `json:"next_cursor,omitempty"`
	}{Records: make([]AuditRecordJSON, 0, len(recs))}
	for _, rec := range recs {
		out.Records = append(out.Records, AuditJSON(rec))
	}
	if len(recs) == q.Limit && recs[len(recs)-1].Seq > 1 {
		out.NextCursor = strconv.FormatInt(recs[len(recs)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
