package audit

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/store"
)

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Actors besides event.ActorAdminAPI and event.ActorCLI.
const (
	ActorUser      = "user"
	ActorClient    = "client"
	ActorSystem    = "system"
	ActorAnonymous = "anonymous"
)

// EventDropped is the audit-only record a writer appends when it had to
// drop records (a full queue): how many, so the gap is itself on record.
const EventDropped = "audit_dropped"

// details are the event fields that have no column, as the record's JSON
// object; every string passes event.Redact.
type details struct {
	Reason      string  `json:"reason,omitempty"`
	Count       int     `json:"count,omitempty"`
	Token       string  `json:"token,omitempty"`
	Format      string  `json:"format,omitempty"`
	JTI         string  `json:"jti,omitempty"`
	KID         string  `json:"kid,omitempty"`
	Method      string  `json:"method,omitempty"`
	Action      string  `json:"action,omitempty"`
	Active      *bool   `json:"active,omitempty"`
	RetryAfterS float64 `json:"retry_after_s,omitempty"`
	Network     string  `json:"network,omitempty"`
	FirstUse    bool    `json:"first_use,omitempty"`
	Dropped     uint64  `json:"dropped,omitempty"`
}

// Critical reports whether records of kind k must not be dropped when the
// write queue is full: the writer waits for room instead (see Writer).
func Critical(k event.Kind) bool {
	switch k {
	case event.AdminAction, event.KeyRotated, event.KeyRevoked, event.FactorChanged,
		event.RefreshReused, event.SessionRevoked, event.TokenRevoked, event.Reauthenticated,
		event.AlertRaised, event.StepUpRequired:
		return true
	}
	return false
}

// Record is the audit record of e (Seq and MAC unset). It carries no raw
// token, password, secret or code: the event holds none, and every string
// is filtered by event.Redact besides.
func Record(e event.Event, node string) store.AuditRecord {
	r := store.AuditRecord{
		At:        e.At.UTC().Truncate(time.Microsecond),
		Event:     e.Kind.String(),
		Actor:     actor(e),
		UserID:    event.Redact(e.UserID),
		SessionID: event.Redact(e.SessionID),
		ClientID:  event.Redact(e.ClientID),
		UserAgent: event.Redact(truncate(e.UserAgent, 512)),
		Outcome:   outcome(e),
		Node:      node,
	}
	if e.IP.IsValid() {
		r.IP = e.IP.String()
	}
	d := details{
		Reason: event.Redact(e.Reason), Count: e.Count, Token: event.Redact(e.Token), Format: event.Redact(e.Format),
		JTI: event.Redact(e.JTI), KID: event.Redact(e.KID), Method: event.Redact(e.Method), Action: event.Redact(e.Action),
		RetryAfterS: e.RetryAfter.Seconds(),
	}
	if e.Kind == event.Introspected {
		d.Active = &e.Active
	}
	if e.Kind == event.SessionValidated {
		if n := network(e.IP); n.IsValid() {
			d.Network = n.String()
		}
		if e.Reason == "" {
			d.FirstUse = true
		}
	}
	r.Details, _ = json.Marshal(d) // cannot fail: strings, numbers and a bool
	return r
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func actor(e event.Event) string {
	switch {
	case e.Actor != "":
		return event.Redact(e.Actor)
	case e.Kind == event.KeyRotated || e.Kind == event.KeyRevoked,
		// Detection raised it about the user; the user did not act.
		e.Kind == event.AlertRaised || e.Kind == event.StepUpRequired:
		return ActorSystem
	case e.Kind == event.Introspected || e.Kind == event.TokenRevoked || (e.Kind == event.TokenIssued && e.SessionID == ""):
		return ActorClient
	case e.UserID != "" || e.SessionID != "":
		return ActorUser
	}
	return ActorAnonymous
}

func outcome(e event.Event) string {
	switch e.Kind {
	case event.LoginFailed, event.MFAFailed, event.RefreshReused, event.TokenProbeThrottled:
		return OutcomeFailure
	case event.SessionValidated:
		if e.Reason != "" {
			return OutcomeFailure
		}
	}
	return OutcomeSuccess
}

// network is the address's network as the summary of validations counts
// it: an IPv4 /24, an IPv6 /48 (a site); the zero prefix if unknown.
func network(ip netip.Addr) netip.Prefix {
	if !ip.IsValid() {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	bits := 24
	if ip.Is6() {
		bits = 48
	}
	p, _ := ip.Prefix(bits)
	return p
}
