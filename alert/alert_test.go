package alert_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/alert"
	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
	"github.com/tessera-auth/tessera/webhook"
)

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

func newSecret(t *testing.T) (string, alert.Secret) {
	t.Helper()
	raw := make([]byte, 32)
	rand.Read(raw)
	s := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	k, err := alert.ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

// receiver records what it is sent and answers with the next status of
// its script (the last one repeats).
type receiver struct {
	mu         sync.Mutex
	statuses   []int
	retryAfter string // sent with every answer when set
	got        []delivered
}

type delivered struct {
	header http.Header
	body   []byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, delivered{req.Header.Clone(), b})
	st := r.statuses[0]
	if len(r.statuses) > 1 {
		r.statuses = r.statuses[1:]
	}
	if r.retryAfter != "" {
		w.Header().Set("Retry-After", r.retryAfter)
	}
	w.WriteHeader(st)
}

func (r *receiver) deliveries() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivered(nil), r.got...)
}

type events struct {
	mu  sync.Mutex
	got []event.Event
}

func (e *events) Publish(_ context.Context, ev event.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

func theftAlert() detect.Alert {
	return detect.Alert{At: t0, Rule: "refresh_reuse", Severity: detect.SeverityHigh, Action: detect.ActionRevokeSession,
		UserID: "u1", SessionID: "s1", ClientID: "app", IP: netip.MustParseAddr("198.51.100.7"),
		Evidence: map[string]string{"family": "f1", "leaked": "tsr_abcdefghijklmnop", "tsr_qrstuvwxyz012345": "a key"}}
}

// TestDeliverySignedPerSpec: a raised alert reaches the receiver as a
// Standard Webhook whose signature the spec's own verification accepts,
// its body names the alert and holds no credential, and the alert is
// stored, published and counted.
func TestDeliverySignedPerSpec(t *testing.T) {
	st := sqlitetest.Open(t)
	clock := clocktest.New(t0)
	secret, key := newSecret(t)
	rcv := &receiver{statuses: []int{204}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	hooks := []alert.Webhook{{Name: "siem", URL: srv.URL, Secret: key, Timeout: 5 * time.Second}}
	ev := &events{}
	var counted []string
	svc := alert.NewService(alert.Config{Store: st, Webhooks: hooks, Events: ev, Now: clock.Now,
		Counted: func(rule, action, severity string) { counted = append(counted, rule+"/"+action+"/"+severity) }})
	a, err := svc.Raise(context.Background(), theftAlert())
	if err != nil {
		t.Fatal(err)
	}
	d := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: "n1", Now: clock.Now})
	if n, err := d.Tick(context.Background()); err != nil || n != 1 {
		t.Fatalf("Tick = %d, %v", n, err)
	}
	got := rcv.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries", len(got))
	}
	if err := verifyStandardWebhook(secret, got[0].header, got[0].body, clock.Now(), 5*time.Minute); err != nil {
		t.Fatalf("signature: %v", err)
	}
	// The same request with a changed body, id or timestamp fails.
	h := got[0].header.Clone()
	if verifyStandardWebhook(secret, h, append([]byte(" "), got[0].body...), clock.Now(), 5*time.Minute) == nil {
		t.Fatal("a changed body verified")
	}
	h.Set("webhook-id", "msg_other")
	if verifyStandardWebhook(secret, h, got[0].body, clock.Now(), 5*time.Minute) == nil {
		t.Fatal("a changed webhook-id verified")
	}
	if !strings.HasPrefix(got[0].header.Get("webhook-id"), "msg_") || got[0].header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", got[0].header)
	}
	var p alert.Payload
	if err := json.Unmarshal(got[0].body, &p); err != nil {
		t.Fatal(err)
	}
	want := alert.Data{ID: a.ID, Rule: "refresh_reuse", Severity: "high", Action: "revoke_session", UserID: "u1", SessionID: "s1",
		ClientID: "app", IP: "198.51.100.7", At: t0, Evidence: map[string]string{"family": "f1", "leaked": "[redacted]", "[redacted]": "a key"}}
	if p.Type != "alert.raised" || !p.Timestamp.Equal(t0) || p.Data.ID == "" || !reflect.DeepEqual(p.Data, want) {
		t.Fatalf("payload %+v, want data %+v", p, want)
	}
	if strings.Contains(string(got[0].body), "tsr_") {
		t.Fatal("a refresh token reached the webhook body")
	}
	stored, err := st.ListAlerts(context.Background(), store.AlertQuery{Limit: 10})
	if err != nil || len(stored) != 1 || stored[0].ID != a.ID || strings.Contains(string(stored[0].Evidence), "tsr_") {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	if len(ev.got) != 1 || ev.got[0].Kind != event.AlertRaised || ev.got[0].Reason != "refresh_reuse" || ev.got[0].Action != "revoke_session" ||
		ev.got[0].UserID != "u1" || ev.got[0].SessionID != "s1" || ev.got[0].ClientID != "app" || ev.got[0].IP != a.IP {
		t.Fatalf("events %+v", ev.got)
	}
	if len(counted) != 1 || counted[0] != "refresh_reuse/revoke_session/high" {
		t.Fatalf("counted %v", counted)
	}
	log, _ := st.DeliveryAttempts(context.Background(), store.DeliveryQuery{AlertID: a.ID, Limit: 10})
	if len(log) != 1 || log[0].StatusCode != 204 || log[0].Outcome != store.DeliveryDelivered {
		t.Fatalf("log %+v", log)
	}
	if n, _ := d.Tick(context.Background()); n != 0 {
		t.Fatalf("a delivered alert was sent again (%d)", n)
	}
}

// TestWebhookFilters: each webhook gets an outbox row only for the alerts
// its severity floor and rule list take.
func TestWebhookFilters(t *testing.T) {
	st := sqlitetest.Open(t)
	_, key := newSecret(t)
	hooks := []alert.Webhook{
		{Name: "all", URL: "http://127.0.0.1:1", Secret: key, Timeout: time.Second},
		{Name: "high", URL: "http://127.0.0.1:1", Secret: key, Timeout: time.Second, MinSeverity: detect.SeverityHigh},
		{Name: "reuse", URL: "http://127.0.0.1:1", Secret: key, Timeout: time.Second, Rules: []string{"refresh_reuse"}},
	}
	svc := alert.NewService(alert.Config{Store: st, Webhooks: hooks})
	for _, c := range []struct {
		rule, severity string
		want           []string
	}{
		{"refresh_reuse", detect.SeverityHigh, []string{"all", "high", "reuse"}},
		{"unusual_hours", detect.SeverityLow, []string{"all"}},
		{"refresh_reuse", detect.SeverityMedium, []string{"all", "reuse"}},
	} {
		a, err := svc.Raise(context.Background(), detect.Alert{Rule: c.rule, Severity: c.severity, Action: detect.ActionAlert})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := st.ClaimDeliveries(context.Background(), "x", time.Now().Add(time.Hour), time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range ds {
			if d.AlertID != a.ID {
				t.Fatalf("claimed a row of another alert")
			}
			names = append(names, d.Webhook)
		}
		if strings.Join(slices.Sorted(slices.Values(names)), ",") != strings.Join(c.want, ",") {
			t.Errorf("%s/%s went to %v, want %v", c.rule, c.severity, names, c.want)
		}
	}
}

// TestRetryBackoff: a refusing receiver is retried on the doubling,
// jittered schedule (the injected clock decides when a retry is due), the
// webhook-id stays the same on every attempt, and each attempt is logged.
func TestRetryBackoff(t *testing.T) {
	st := sqlitetest.Open(t)
	clock := clocktest.New(t0)
	secret, key := newSecret(t)
	rcv := &receiver{statuses: []int{500, 503, 429, 200}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	hooks := []alert.Webhook{{Name: "siem", URL: srv.URL, Secret: key, Timeout: 5 * time.Second}}
	svc := alert.NewService(alert.Config{Store: st, Webhooks: hooks, Now: clock.Now})
	a, err := svc.Raise(context.Background(), theftAlert())
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	d := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: "n1", Now: clock.Now,
		Retry:     alert.Retry{MinBackoff: 10 * time.Second, MaxBackoff: time.Minute, MaxAttempts: 10, MaxAge: time.Hour},
		Jitter:    func() float64 { return 0.5 }, // waits are 3/4 of the backoff
		Attempted: func(o string) { outcomes = append(outcomes, o) }})
	tick := func(want int) {
		t.Helper()
		if n, err := d.Tick(context.Background()); err != nil || n != want {
			t.Fatalf("at +%v: Tick = %d, %v; want %d", clock.Now().Sub(t0), n, err, want)
		}
	}
	tick(1) // 500
	// Backoff 10 s, jittered to 7.5 s.
	clock.Add(7*time.Second + 400*time.Millisecond)
	tick(0)
	clock.Add(100 * time.Millisecond)
	tick(1) // 503; backoff 20 s → 15 s
	clock.Add(14 * time.Second)
	tick(0)
	clock.Add(time.Second)
	tick(1) // 429; backoff 40 s → 30 s
	clock.Add(30 * time.Second)
	tick(1) // 200
	clock.Add(time.Hour)
	tick(0)
	got := rcv.deliveries()
	if len(got) != 4 {
		t.Fatalf("%d requests, want 4", len(got))
	}
	id := got[0].header.Get("webhook-id")
	for i, g := range got {
		if g.header.Get("webhook-id") != id {
			t.Fatalf("attempt %d has webhook-id %q, want %q", i+1, g.header.Get("webhook-id"), id)
		}
		if string(g.body) != string(got[0].body) {
			t.Fatalf("attempt %d has another body", i+1)
		}
	}
	if err := verifyStandardWebhook(secret, got[3].header, got[3].body, clock.Now(), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if strings.Join(outcomes, ",") != "retry,retry,retry,delivered" {
		t.Fatalf("outcomes %v", outcomes)
	}
	log, err := st.DeliveryAttempts(context.Background(), store.DeliveryQuery{AlertID: a.ID, Limit: 10})
	if err != nil || len(log) != 4 {
		t.Fatalf("log = %d entries, %v", len(log), err)
	}
	for i, want := range []struct {
		attempt, code int
		outcome       string
		after         time.Duration
	}{{4, 200, "delivered", 7500*time.Millisecond + 15*time.Second + 30*time.Second}, {3, 429, "pending", 22500 * time.Millisecond}, {2, 503, "pending", 7500 * time.Millisecond}, {1, 500, "pending", 0}} {
		l := log[i]
		if l.Attempt != want.attempt || l.StatusCode != want.code || l.Outcome != want.outcome || !l.At.Equal(t0.Add(want.after)) {
			t.Errorf("log[%d] = %+v, want %+v", i, l, want)
		}
		if want.code >= 300 && l.Error != "status "+strconv.Itoa(want.code) {
			t.Errorf("log[%d].Error = %q", i, l.Error)
		}
	}
}

// TestGiveUp: a delivery is failed after its attempts run out, after its
// age does, and at once on 410 Gone; a failed one is never claimed again.
func TestGiveUp(t *testing.T) {
	for _, c := range []struct {
		name     string
		statuses []int
		retry    alert.Retry
		step     time.Duration
		attempts int
	}{
		{"attempts", []int{500}, alert.Retry{MinBackoff: time.Second, MaxBackoff: time.Second, MaxAttempts: 3, MaxAge: time.Hour}, time.Second, 3},
		{"age", []int{500}, alert.Retry{MinBackoff: time.Minute, MaxBackoff: time.Minute, MaxAttempts: 100, MaxAge: 150 * time.Second}, time.Minute, 3},
		{"gone", []int{410}, alert.Retry{MinBackoff: time.Second, MaxBackoff: time.Second, MaxAttempts: 100, MaxAge: time.Hour}, time.Second, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := sqlitetest.Open(t)
			clock := clocktest.New(t0)
			_, key := newSecret(t)
			rcv := &receiver{statuses: c.statuses}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			hooks := []alert.Webhook{{Name: "siem", URL: srv.URL, Secret: key, Timeout: 5 * time.Second}}
			a, err := alert.NewService(alert.Config{Store: st, Webhooks: hooks, Now: clock.Now}).Raise(context.Background(), theftAlert())
			if err != nil {
				t.Fatal(err)
			}
			d := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: "n1", Now: clock.Now,
				Retry: c.retry, Jitter: func() float64 { return 1 }})
			for range 10 {
				d.Tick(context.Background())
				clock.Add(c.step)
			}
			if n := len(rcv.deliveries()); n != c.attempts {
				t.Fatalf("%d attempts, want %d", n, c.attempts)
			}
			log, _ := st.DeliveryAttempts(context.Background(), store.DeliveryQuery{AlertID: a.ID, Limit: 100})
			if len(log) == 0 || log[0].Outcome != store.DeliveryFailed {
				t.Fatalf("last log entry %+v, want failed", log)
			}
			if n, _ := st.CountPendingDeliveries(context.Background()); n != 0 {
				t.Fatalf("%d still pending", n)
			}
		})
	}
}

// TestNoRedirectNoURLInErrors: a 3xx is a failed attempt (the redirect is
// not followed), and a failed connection's logged error does not quote
// the URL, which may carry a credential.
func TestNoRedirectNoURLInErrors(t *testing.T) {
	var hit sync.Mutex
	followed := false
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit.Lock(); followed = true; hit.Unlock() }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/hook?token=SECRETX"
	l.Close()

	st := sqlitetest.Open(t)
	clock := clocktest.New(t0)
	_, key := newSecret(t)
	hooks := []alert.Webhook{
		{Name: "redirect", URL: redirector.URL, Secret: key, Timeout: 5 * time.Second},
		{Name: "down", URL: closed, Secret: key, Timeout: 5 * time.Second},
	}
	if _, err := alert.NewService(alert.Config{Store: st, Webhooks: hooks, Now: clock.Now}).Raise(context.Background(), theftAlert()); err != nil {
		t.Fatal(err)
	}
	d := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: "n1", Now: clock.Now})
	if n, err := d.Tick(context.Background()); err != nil || n != 2 {
		t.Fatalf("Tick = %d, %v", n, err)
	}
	hit.Lock()
	defer hit.Unlock()
	if followed {
		t.Fatal("the redirect was followed")
	}
	log, _ := st.DeliveryAttempts(context.Background(), store.DeliveryQuery{Limit: 10})
	if len(log) != 2 {
		t.Fatalf("log %+v", log)
	}
	for _, l := range log {
		if l.Outcome != store.DeliveryPending {
			t.Errorf("%s: outcome %s, want pending (a retry)", l.Webhook, l.Outcome)
		}
		if l.Webhook == "redirect" && l.StatusCode != http.StatusTemporaryRedirect {
			t.Errorf("redirect: status %d", l.StatusCode)
		}
		if l.Webhook == "down" && (l.Error == "" || strings.Contains(l.Error, "SECRETX") || strings.Contains(l.Error, "/hook")) {
			t.Errorf("down: error %q (empty, or quoting the URL)", l.Error)
		}
	}
}

func TestParseSecret(t *testing.T) {
	ok := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 24))
	if _, err := alert.ParseSecret(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "whsec_", base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)), "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)), "whsec_!!!"} {
		if _, err := alert.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		}
	}
	k, _ := alert.ParseSecret(ok)
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", k, "hook", alert.Webhook{Secret: k})
	fmt.Fprintf(&buf, "%v %+v %#v %s", k, k, k, k)
	if out := buf.String(); strings.Contains(out, "AAAA") || strings.Contains(out, "[0 0 0") || !strings.Contains(out, "[secret]") {
		t.Fatalf("a secret prints: %s", out)
	}
}

// TestDefaultSchedule: the documented default schedule (docs/webhooks.md):
// the 15th attempt 2.7 to 5.4 hours after the first.
func TestDefaultSchedule(t *testing.T) {
	r := alert.DefaultRetry
	var total time.Duration
	for n := 1; n < r.MaxAttempts; n++ {
		total += r.Backoff(n)
	}
	if lo, hi := total/2, total; lo.Hours() < 2.7 || lo.Hours() > 2.8 || hi.Hours() < 5.4 || hi.Hours() > 5.5 {
		t.Fatalf("the 15th attempt comes %v to %v after the first", lo, hi)
	}
	if r.Backoff(1) != 5*time.Second || r.Backoff(2) != 10*time.Second || r.Backoff(20) != time.Hour {
		t.Fatalf("backoffs %v %v %v", r.Backoff(1), r.Backoff(2), r.Backoff(20))
	}
}

// TestRetryAfter: a receiver's Retry-After longer than the backoff
// postpones the retry (up to MaxBackoff); a shorter one changes nothing.
func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		header string
		wait   time.Duration
	}{{"120", 120 * time.Second}, {"3600", 5 * time.Minute}, {"1", 7500 * time.Millisecond}, {"soon", 7500 * time.Millisecond}} {
		t.Run(c.header, func(t *testing.T) {
			st := sqlitetest.Open(t)
			clock := clocktest.New(t0)
			_, key := newSecret(t)
			rcv := &receiver{statuses: []int{503, 200}, retryAfter: c.header}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			hooks := []alert.Webhook{{Name: "siem", URL: srv.URL, Secret: key, Timeout: 5 * time.Second}}
			if _, err := alert.NewService(alert.Config{Store: st, Webhooks: hooks, Now: clock.Now}).Raise(context.Background(), theftAlert()); err != nil {
				t.Fatal(err)
			}
			d := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: "n1", Now: clock.Now,
				Retry:  alert.Retry{MinBackoff: 10 * time.Second, MaxBackoff: 5 * time.Minute, MaxAttempts: 10, MaxAge: time.Hour},
				Jitter: func() float64 { return 0.5 }})
			d.Tick(context.Background())
			clock.Add(c.wait - time.Millisecond)
			if n, _ := d.Tick(context.Background()); n != 0 {
				t.Fatalf("retried before %v", c.wait)
			}
			clock.Add(time.Millisecond)
			if n, _ := d.Tick(context.Background()); n != 1 {
				t.Fatalf("not retried at %v", c.wait)
			}
		})
	}
}

// TestUnknownWebhookIsRetried: a node whose configuration does not name
// a delivery's webhook (a rolling deploy that adds one: the new node
// queued it, an old node claims it) does not give the delivery up; it is
// retried, and a node that knows the webhook delivers it.
func TestUnknownWebhookIsRetried(t *testing.T) {
	st := sqlitetest.Open(t)
	clock := clocktest.New(t0)
	_, key := newSecret(t)
	rcv := &receiver{statuses: []int{204}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	hooks := []alert.Webhook{{Name: "siem", URL: srv.URL, Secret: key, Timeout: 5 * time.Second}}
	a, err := alert.NewService(alert.Config{Store: st, Webhooks: hooks, Now: clock.Now}).Raise(context.Background(), theftAlert())
	if err != nil {
		t.Fatal(err)
	}
	retry := alert.Retry{MinBackoff: time.Second, MaxBackoff: time.Second, MaxAttempts: 5, MaxAge: time.Hour}
	old := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Holder: "old", Now: clock.Now, Retry: retry})
	if n, err := old.Tick(context.Background()); n != 1 || err != nil {
		t.Fatalf("old node: %d, %v", n, err)
	}
	if n, _ := st.CountPendingDeliveries(context.Background()); n != 1 {
		t.Fatal("a node that does not know the webhook gave the delivery up")
	}
	clock.Add(2 * time.Second)
	cur := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: "new", Now: clock.Now, Retry: retry})
	if n, err := cur.Tick(context.Background()); n != 1 || err != nil {
		t.Fatalf("new node: %d, %v", n, err)
	}
	if len(rcv.deliveries()) != 1 {
		t.Fatal("not delivered by the node that knows the webhook")
	}
	log, _ := st.DeliveryAttempts(context.Background(), store.DeliveryQuery{AlertID: a.ID, Limit: 10})
	if len(log) != 2 || log[0].Outcome != store.DeliveryDelivered || log[1].Outcome != store.DeliveryPending {
		t.Fatalf("log %+v", log)
	}
}

// TestHangingReceiverBlocksNoOther: while one receiver holds an attempt
// open (up to its timeout), Run keeps delivering to the others: an alert
// raised meanwhile reaches the healthy receiver before the hung attempt
// ends. Before, Run waited for its whole batch, hung attempt included.
func TestHangingReceiverBlocksNoOther(t *testing.T) {
	st := sqlitetest.Open(t)
	_, key := newSecret(t)
	release := make(chan struct{})
	hung := make(chan struct{}, 10)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	rcv := &receiver{statuses: []int{204}}
	fast := httptest.NewServer(rcv)
	defer fast.Close()
	hooks := []alert.Webhook{
		{Name: "slow", URL: slow.URL, Secret: key, Timeout: time.Minute},
		{Name: "fast", URL: fast.URL, Secret: key, Timeout: time.Minute},
	}
	d := alert.NewDispatcher(alert.DispatchConfig{Outbox: st, Sender: webhook.New(), Webhooks: hooks, Holder: "n1", Poll: 10 * time.Millisecond})
	svc := alert.NewService(alert.Config{Store: st, Webhooks: hooks, Queued: d.Wake})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	if _, err := svc.Raise(ctx, theftAlert()); err != nil {
		t.Fatal(err)
	}
	<-hung // the first alert's attempt to slow is open
	second, err := svc.Raise(ctx, theftAlert())
	if err != nil {
		t.Fatal(err)
	}
	// Generous: an attempt to a healthy local receiver takes milliseconds.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := false
		for _, dl := range rcv.deliveries() {
			got = got || strings.Contains(string(dl.body), second.ID)
		}
		if got {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the healthy receiver waited for the hung one")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
