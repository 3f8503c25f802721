package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/alert"
	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/store/sqlite"
)

// TestAlertsList: `tessera alerts list` shows stored alerts newest first,
// filters them, and writes the admin API's objects with -o json.
func TestAlertsList(t *testing.T) {
	data := t.TempDir()
	tessera(t, data, pw+"\n", nil, "user", "add", "mia", "--password-stdin")
	st, err := sqlite.OpenExisting(context.Background(), filepath.Join(data, "tessera.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := alert.NewService(alert.Config{Store: st})
	for _, a := range []detect.Alert{
		{Rule: "refresh_reuse", Severity: detect.SeverityHigh, Action: detect.ActionRevokeSession, UserID: "u1", SessionID: "s1",
			IP: netip.MustParseAddr("203.0.113.5"), Evidence: map[string]string{"family": "f1"}},
		{Rule: "unusual_hours", Severity: detect.SeverityLow, Action: detect.ActionAlert, UserID: "u2"},
	} {
		if _, err := svc.Raise(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out, e, code := tessera(t, data, "", nil, "alerts", "list")
	if code != 0 {
		t.Fatalf("alerts list: %d %s", code, e)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "AT") || !strings.Contains(lines[1], "unusual_hours") ||
		!strings.Contains(lines[2], "refresh_reuse") || !strings.Contains(lines[2], "203.0.113.5") {
		t.Fatalf("alerts list:\n%s", out)
	}
	out, e, code = tessera(t, data, "", nil, "alerts", "list", "--severity", "high", "-o", "json")
	if code != 0 {
		t.Fatalf("alerts list -o json: %d %s", code, e)
	}
	var got []struct {
		ID       string            `json:"id"`
		Rule     string            `json:"rule"`
		Action   string            `json:"action"`
		UserID   string            `json:"user_id"`
		Evidence map[string]string `json:"evidence"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(got) != 1 || got[0].Rule != "refresh_reuse" || got[0].Action != "revoke_session" || got[0].UserID != "u1" || got[0].Evidence["family"] != "f1" || got[0].ID == "" {
		t.Fatalf("alerts list --severity high -o json: %+v", got)
	}
	if _, _, code := tessera(t, data, "", nil, "alerts", "list", "--since", "yesterday"); code == 0 {
		t.Fatal("a bad --since was accepted")
	}
}
