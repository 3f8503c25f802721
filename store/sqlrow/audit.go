package sqlrow

import (
	"strconv"

	"github.com/tessera-auth/tessera/store"
)

// AuditCols are audit_records' columns in the order AuditRecord scans and
// AuditArgs lists them.
const AuditCols = "seq, at, event, actor, user_id, session_id, client_id, ip, user_agent, outcome, details, node, mac"

// AuditRecord scans one audit_records row.
func AuditRecord(row Scanner) (store.AuditRecord, error) {
	var r store.AuditRecord
	var at int64
	var details string
	if err := row.Scan(&r.Seq, &at, &r.Event, &r.Actor, &r.UserID, &r.SessionID, &r.ClientID, &r.IP, &r.UserAgent, &r.Outcome, &details, &r.Node, &r.MAC); err != nil {
		return store.AuditRecord{}, err
	}
	r.At, r.Details = FromMicros(at), []byte(details)
	return r, nil
}

// AuditArgs are r's values in AuditCols order.
func AuditArgs(r store.AuditRecord) []any {
	return []any{r.Seq, Micros(r.At), r.Event, r.Actor, r.UserID, r.SessionID, r.ClientID, r.IP, r.UserAgent, r.Outcome, string(r.Details), r.Node, r.MAC}
}

// AuditCheckpointCols are audit_checkpoints' columns in scan order.
const AuditCheckpointCols = "seq, kind, mac, at, node, sig"

// AuditCheckpoint scans one audit_checkpoints row.
func AuditCheckpoint(row Scanner) (store.AuditCheckpoint, error) {
	var c store.AuditCheckpoint
	var at int64
	if err := row.Scan(&c.Seq, &c.Kind, &c.MAC, &at, &c.Node, &c.Sig); err != nil {
		return store.AuditCheckpoint{}, err
	}
	c.At = FromMicros(at)
	return c, nil
}

// AuditQuery is the SELECT of q's records ($n placeholders).
func AuditQuery(q store.AuditQuery) (string, []any) {
	w := &where{}
	if q.UserID != "" {
		w.add("user_id = ?", q.UserID)
	}
	if q.SessionID != "" {
		w.add("session_id = ?", q.SessionID)
	}
	if q.Event != "" {
		w.add("event = ?", q.Event)
	}
	if !q.Since.IsZero() {
		w.add("at >= ?", Micros(q.Since))
	}
	if !q.Until.IsZero() {
		w.add("at < ?", Micros(q.Until))
	}
	if q.After > 0 {
		w.add("seq > ?", q.After)
	}
	if q.Before > 0 {
		w.add("seq < ?", q.Before)
	}
	s := "SELECT " + AuditCols + " FROM audit_records" + w.String()
	if q.Desc {
		s += " ORDER BY seq DESC"
	} else {
		s += " ORDER BY seq"
	}
	return s + " LIMIT " + strconv.Itoa(max(q.Limit, 1)), w.args
}
