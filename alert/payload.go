package alert

import (
	"encoding/json"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/event"
)

// EventType is the payload type of every alert webhook.
const EventType = "alert.raised"

// Payload is the JSON body of an alert webhook (Standard Webhooks'
// type/timestamp/data shape).
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      Data      `json:"data"`
}

// Data is the alert in a payload. Evidence never holds a token,
// password, secret or code.
type Data struct {
	ID        string            `json:"id"`
	Rule      string            `json:"rule"`
	Severity  string            `json:"severity"`
	Action    string            `json:"action"`
	UserID    string            `json:"user_id,omitempty"`
	SessionID string            `json:"session_id,omitempty"`
	ClientID  string            `json:"client_id,omitempty"`
	IP        string            `json:"ip,omitempty"`
	At        time.Time         `json:"at"`
	Evidence  map[string]string `json:"evidence"`
}

// body renders a's payload.
func body(a detect.Alert, ev map[string]string) ([]byte, error) {
	d := Data{ID: a.ID, Rule: a.Rule, Severity: a.Severity, Action: string(a.Action), UserID: a.UserID,
		SessionID: a.SessionID, ClientID: a.ClientID, At: a.At, Evidence: ev}
	if a.IP.IsValid() {
		d.IP = a.IP.String()
	}
	return json.Marshal(Payload{Type: EventType, Timestamp: a.At, Data: d})
}

// evidence is a's evidence with every value that could be a credential
// redacted (event.Redact): a rule that put one there by mistake must not
// send it to a webhook or the store.
func evidence(a detect.Alert) map[string]string {
	ev := make(map[string]string, len(a.Evidence))
	for k, v := range a.Evidence {
		ev[event.Redact(k)] = event.Redact(v)
	}
	return ev
}
