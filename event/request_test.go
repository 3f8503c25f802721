package event_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
)

// The kinds' names are the "event" field operators filter and alert on:
// renaming one breaks their queries, so each is pinned here.
func TestKindNamesAreStable(t *testing.T) {
	want := map[event.Kind]string{
		event.LoginSucceeded: "login_succeeded", event.LoginFailed: "login_failed",
		event.SessionCreated: "session_created", event.SessionValidated: "session_validated",
		event.SessionRenewed: "session_renewed", event.SessionRevoked: "session_revoked",
		event.RefreshRotated: "refresh_rotated", event.RefreshGraceRetry: "refresh_grace_retry",
		event.RefreshReused: "refresh_reused", event.TokenIssued: "token_issued",
		event.TokenRevoked: "token_revoked", event.Introspected: "introspected",
		event.KeyRotated: "key_rotated", event.TokenProbeThrottled: "token_probe_throttled",
		event.KeyRevoked: "key_revoked", event.AdminAction: "admin_action",
		event.MFAChallenged: "mfa_challenged", event.MFAFailed: "mfa_failed",
		event.FactorChanged: "factor_changed", event.Reauthenticated: "reauthenticated",
		event.SignCountRegressed: "sign_count_regressed",
		event.AlertRaised:        "alert_raised", event.StepUpRequired: "step_up_required",
	}
	for k, n := range want {
		if k.String() != n {
			t.Errorf("kind %d is named %q, want %q", k, k.String(), n)
		}
	}
	// A new kind must be added above (and so named on purpose).
	if n := event.Kind(len(want) + 1).String(); n != "unknown" {
		t.Errorf("kind %d (%q) is not pinned here", len(want)+1, n)
	}
}

// Every line the logging subscriber writes carries "event", the kind's
// name, whatever its message says.
func TestEveryEventLineHasEventField(t *testing.T) {
	var buf bytes.Buffer
	l := event.NewLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	for _, k := range l.Kinds() {
		buf.Reset()
		l.Publish(context.Background(), event.Event{Kind: k, Count: 1})
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatalf("%s: no JSON line: %q", k, buf.String())
		}
		if m["event"] != k.String() {
			t.Errorf("%s: line's event field %v", k, m["event"])
		}
	}
}

// An event published under a request gets the request's id, and its address
// and user agent where the publisher set none; a publisher's own use
// context wins.
func TestFanoutFillsRequest(t *testing.T) {
	f := event.NewFanout(nil)
	rec := &eventtest.Recorder{}
	f.Subscribe(rec)
	req := &event.Request{ID: "r-1", IP: netip.MustParseAddr("198.51.100.7"), UserAgent: "Agent/1"}
	ctx := event.WithRequest(context.Background(), req)
	f.Publish(ctx, event.Event{Kind: event.TokenRevoked})
	f.Publish(ctx, event.Event{Kind: event.SessionValidated, IP: netip.MustParseAddr("192.0.2.1"), UserAgent: "Own/1"})
	f.Publish(context.Background(), event.Event{Kind: event.KeyRotated})
	got := rec.Events()
	if len(got) != 3 {
		t.Fatalf("%d events", len(got))
	}
	if e := got[0]; e.RequestID != "r-1" || e.IP != req.IP || e.UserAgent != "Agent/1" {
		t.Errorf("request not filled in: %+v", e)
	}
	if e := got[1]; e.RequestID != "r-1" || e.IP.String() != "192.0.2.1" || e.UserAgent != "Own/1" {
		t.Errorf("publisher's use context overwritten: %+v", e)
	}
	if e := got[2]; e.RequestID != "" || e.IP.IsValid() {
		t.Errorf("an event outside a request got one: %+v", e)
	}
	var buf bytes.Buffer
	event.NewLogger(slog.New(slog.NewJSONHandler(&buf, nil))).Publish(ctx, event.Event{Kind: event.RefreshReused})
	for _, want := range []string{`"event":"refresh_reused"`, `"request_id":"r-1"`, `"ip":"198.51.100.7"`, `"user_agent":"Agent/1"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log line lacks %s: %s", want, buf.String())
		}
	}
}
