package app_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
)

// TestAlertsEndToEnd: alerts raised through the app's detect.Alerts are
// delivered by its dispatcher to the configured webhook (signed, one
// webhook-id each), listed by the admin API with filters and cursor
// paging, logged in the delivery log, counted in the metrics and
// recorded in the audit log.
func TestAlertsEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	got := map[string]int{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("webhook-signature") == "" || !strings.HasPrefix(r.Header.Get("webhook-signature"), "v1,") {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer rcv.Close()
	c := testConfig(t)
	raw := make([]byte, 32)
	rand.Read(raw)
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Data, "siem.secret"), []byte("whsec_"+base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Webhooks = []config.Webhook{{Name: "siem", URL: rcv.URL, SecretFile: "siem.secret", MinSeverity: "medium"}}
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	var alerts detect.Alerts = a.Alerts
	var ids []string
	for i, sev := range []string{detect.SeverityHigh, detect.SeverityLow, detect.SeverityHigh} {
		al, err := alerts.Raise(ctx, detect.Alert{Rule: "refresh_reuse", Severity: sev, Action: detect.ActionRevokeSession,
			UserID: "u1", SessionID: "s" + string(rune('1'+i)), IP: netip.MustParseAddr("203.0.113.9"), Evidence: map[string]string{"n": "1"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, al.ID)
	}
	// Two of three are at least medium: two deliveries, received and
	// recorded (the receiver answers before the attempt is recorded).
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		pending, err := a.Store.CountPendingDeliveries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 2 && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhooks delivered, want 2", n)
		}
		time.Sleep(20 * time.Millisecond)
	}

	adm, admin := a.Admin(), "Bearer "+adminToken
	var page struct {
		Alerts []struct {
			ID       string            `json:"id"`
			Severity string            `json:"severity"`
			IP       string            `json:"ip"`
			Evidence map[string]string `json:"evidence"`
		} `json:"alerts"`
		NextCursor string `json:"next_cursor"`
	}
	var listed []string
	next := "/admin/v1/alerts?limit=2&user_id=u1"
	for next != "" {
		w := do(adm, "GET", next, "", admin)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", next, w.Code, w.Body)
		}
		page.Alerts, page.NextCursor = nil, ""
		if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		for _, al := range page.Alerts {
			if al.IP != "203.0.113.9" || al.Evidence["n"] != "1" {
				t.Fatalf("alert %+v", al)
			}
			listed = append(listed, al.ID)
		}
		next = ""
		if page.NextCursor != "" {
			next = "/admin/v1/alerts?limit=2&user_id=u1&cursor=" + page.NextCursor
		}
	}
	if strings.Join(listed, ",") != strings.Join([]string{ids[2], ids[1], ids[0]}, ",") {
		t.Fatalf("listed %v, want %v newest first", listed, ids)
	}
	if w := do(adm, "GET", "/admin/v1/alerts?severity=low", "", admin); !strings.Contains(w.Body.String(), ids[1]) || strings.Contains(w.Body.String(), ids[0]) {
		t.Fatalf("severity filter: %s", w.Body)
	}
	for _, bad := range []string{"/admin/v1/alerts?severity=urgent", "/admin/v1/alerts?since=yesterday", "/admin/v1/alerts?cursor=-1",
		"/admin/v1/alerts?limit=0", "/admin/v1/webhooks/deliveries?status=lost",
		// Text PostgreSQL refuses to compare (a NUL, invalid UTF-8) or
		// no id is that long: the caller's mistake, not an outage.
		"/admin/v1/alerts?user_id=%00", "/admin/v1/alerts?rule=%ff", "/admin/v1/alerts?session_id=" + strings.Repeat("s", 300),
		"/admin/v1/webhooks/deliveries?alert_id=a%00"} {
		w := do(adm, "GET", bad, "", admin)
		if w.Code != 400 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
			t.Errorf("GET %s: %d %s %s", bad, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	for _, p := range []string{"/admin/v1/alerts", "/admin/v1/webhooks/deliveries"} {
		if w := do(adm, "GET", p, "", ""); w.Code != 401 {
			t.Errorf("GET %s without the admin token: %d", p, w.Code)
		}
	}
	w := do(adm, "GET", "/admin/v1/webhooks/deliveries?status=delivered&alert_id="+ids[0], "", admin)
	var log struct {
		Deliveries []struct {
			DeliveryID string `json:"delivery_id"`
			Webhook    string `json:"webhook"`
			StatusCode int    `json:"status_code"`
			Outcome    string `json:"outcome"`
		} `json:"deliveries"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &log); err != nil || len(log.Deliveries) != 1 {
		t.Fatalf("deliveries: %s", w.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if d := log.Deliveries[0]; d.Webhook != "siem" || d.StatusCode != 200 || d.Outcome != "delivered" || got[d.DeliveryID] != 1 {
		t.Fatalf("delivery %+v (receiver saw %v)", d, got)
	}
	// The attempt is counted just after it is recorded.
	for {
		m := do(adm, "GET", "/metrics", "", "").Body.String()
		var missing []string
		for _, want := range []string{
			`tessera_alerts_total{action="revoke_session",rule="refresh_reuse",severity="high"} 2`,
			`tessera_webhook_deliveries_total{outcome="delivered"} 2`,
			`tessera_webhook_outbox_pending 0`,
		} {
			if !strings.Contains(m, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics lack %v:\n%s\n%s", missing, grep(m, "alerts_total"), grep(m, "webhook"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := a.Store.CountPendingDeliveries(ctx); err != nil || n != 0 {
		t.Fatalf("pending %d, %v", n, err)
	}
	// The audit log records each alert (written asynchronously).
	for {
		recs, err := a.Store.AuditRecords(ctx, store.AuditQuery{Event: "alert_raised", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d alert_raised audit records, want 3", len(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhookSecretRequired: a webhook whose secret file is missing or
// malformed stops the start instead of sending unsigned.
func TestWebhookSecretRequired(t *testing.T) {
	c := testConfig(t)
	c.Webhooks = []config.Webhook{{Name: "siem", URL: "https://siem.example.com/h", SecretFile: "missing.secret"}}
	if _, err := app.New(context.Background(), c, app.Options{Access: app.Migrate, AdminToken: adminToken}); err == nil || !strings.Contains(err.Error(), "siem") {
		t.Fatalf("New with a missing secret file: %v", err)
	}
	c.Webhooks = []config.Webhook{{Name: "siem", URL: "https://siem.example.com/h", Secret: "whsec_c2hvcnQ="}}
	if _, err := app.New(context.Background(), c, app.Options{Access: app.Migrate, AdminToken: adminToken}); err == nil || strings.Contains(err.Error(), "c2hvcnQ") {
		t.Fatalf("New with a short secret: %v", err)
	}
}

// TestAlertRetention: the cleanup (on the gc lease holder) deletes alerts
// older than alerts.retention and keeps newer ones.
func TestAlertRetention(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	c := testConfig(t)
	c.Alerts.Retention = config.Duration(30 * 24 * time.Hour)
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	old, err := a.Alerts.Raise(ctx, detect.Alert{Rule: "r", Severity: detect.SeverityLow, Action: detect.ActionAlert})
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(20 * 24 * time.Hour)
	recent, err := a.Alerts.Raise(ctx, detect.Alert{Rule: "r", Severity: detect.SeverityLow, Action: detect.ActionAlert})
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(11 * 24 * time.Hour)
	if ran, _, err := a.Collect(ctx); err != nil || !ran {
		t.Fatalf("Collect = %v, %v", ran, err)
	}
	left, err := a.Store.ListAlerts(ctx, store.AlertQuery{Limit: 10})
	if err != nil || len(left) != 1 || left[0].ID != recent.ID {
		t.Fatalf("after the cleanup: %+v, %v (the one of 31 days ago, %s, must go)", left, err, old.ID)
	}
}

// TestRefreshReuseAlertDelivered: a refresh token replayed after rotation
// (detection's refresh_reuse rule, default policy) becomes a stored alert
// naming the victim, listed by the admin API and delivered to the
// webhook, signed, with nothing of the token in it.
func TestRefreshReuseAlertDelivered(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clock := clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var bodies []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Header.Get("webhook-signature")+" "+string(b))
		mu.Unlock()
	}))
	defer rcv.Close()
	c := testConfig(t)
	raw := make([]byte, 32)
	rand.Read(raw)
	c.Webhooks = []config.Webhook{{Name: "siem", URL: rcv.URL, Secret: "whsec_" + base64.StdEncoding.EncodeToString(raw), Rules: []string{"refresh_reuse"}}}
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	pub, adm := a.Public(), a.Admin()
	const pw = "correct horse battery staple"
	w := do(adm, "POST", "/admin/v1/users", `{"username":"bob","password":"`+pw+`"}`, "Bearer "+adminToken)
	if w.Code != 201 {
		t.Fatalf("create user: %d %s", w.Code, w.Body)
	}
	bob := between(w.Body.String(), `"id":"`, `"`)
	w = from(pub, "POST", "/v1/login", `{"username":"bob","password":"`+pw+`","delivery":"token"}`, "", "192.0.2.10:1", "Demo/1 (iPhone)")
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	old := between(w.Body.String(), `"refresh_token":"`, `"`)
	clock.Add(15 * time.Minute)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}.Encode()
	if w := from(pub, "POST", "/oauth2/token", form, "", "192.0.2.10:1", "Demo/1 (iPhone)"); w.Code != 200 {
		t.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	clock.Add(time.Hour)
	if w := from(pub, "POST", "/oauth2/token", form, "", "203.0.113.66:1", "python-requests/2.32.3"); w.Code != 400 {
		t.Fatalf("replay: %d %s", w.Code, w.Body)
	}
	if err := a.FlushDetection(ctx); err != nil {
		t.Fatal(err)
	}
	w = do(adm, "GET", "/admin/v1/alerts?rule=refresh_reuse&user_id="+bob, "", "Bearer "+adminToken)
	if w.Code != 200 || strings.Count(w.Body.String(), `"rule":"refresh_reuse"`) != 1 || !strings.Contains(w.Body.String(), `"session_id":"`) {
		t.Fatalf("alerts: %d %s", w.Code, w.Body)
	}
	id := between(w.Body.String(), `"id":"`, `"`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the alert was not delivered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || !strings.HasPrefix(bodies[0], "v1,") || !strings.Contains(bodies[0], `"id":"`+id+`"`) ||
		!strings.Contains(bodies[0], `"user_id":"`+bob+`"`) || strings.Contains(bodies[0], old) || credentialShapes.MatchString(bodies[0]) {
		t.Fatalf("delivered %q", bodies)
	}
}
