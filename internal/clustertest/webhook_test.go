package clustertest_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/alert"
	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/internal/clustertest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
	"github.com/tessera-auth/tessera/store/sqlite"
)

// hookReceiver is a webhook endpoint that checks every request the way
// the Standard Webhooks specification tells receivers to (written here
// from the spec, not with package alert's signer), and answers with
// status until told otherwise.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	status int // 0: hang until the sender goes away
	seen   []hookRequest
}

type hookRequest struct {
	id     string
	status int // what it was answered
	err    error
	body   []byte
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	err := verifySpec(h.secret, r.Header, b, time.Now(), 5*time.Minute)
	h.mu.Lock()
	st := h.status
	if err != nil {
		st = http.StatusUnauthorized
	}
	h.seen = append(h.seen, hookRequest{id: r.Header.Get("webhook-id"), status: st, err: err, body: b})
	h.mu.Unlock()
	if st == 0 {
		<-r.Context().Done() // the sender was killed mid-request
		return
	}
	w.WriteHeader(st)
}

func (h *hookReceiver) set(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status = status
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.seen...)
}

// verifySpec: HMAC-SHA256 with the key after "whsec_" (base64) over
// "{webhook-id}.{webhook-timestamp}.{body}", any "v1,<base64>" entry of
// the space-separated webhook-signature matching in constant time, and
// the timestamp within tolerance.
func verifySpec(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return errors.New("missing webhook-id or webhook-timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("stale webhook-timestamp")
	}
	m := hmac.New(sha256.New, key)
	io.WriteString(m, id+"."+ts+".")
	m.Write(body)
	want := m.Sum(nil)
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		if v, b64, ok := strings.Cut(s, ","); ok && v == "v1" {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return errors.New("no valid v1 signature")
}

// TestWebhookSurvivesKill9: an alert queued in the store of a running
// `tessera serve` is attempted, and the server is killed with SIGKILL
// before it can deliver; the receiver starts accepting, and the restarted
// server delivers the alert with a valid signature and the same
// webhook-id as the attempt before the crash: at least once, from the
// outbox in the store. The alert is written by this test on the server's
// store (SQLite: the kill falls in the middle of a request, so the row
// stays leased to the dead process until its lease runs out; PostgreSQL:
// between attempts, the first refused with 500 and logged), or raised by
// the server's own detection of a refresh token replayed after rotation.
func TestWebhookSurvivesKill9(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			var storeURL string
			var open func() (alert.Store, func(), error)
			if backend == "sqlite" {
				path := filepath.Join(dir, "shared.db")
				storeURL = "sqlite:" + path
				open = func() (alert.Store, func(), error) {
					st, err := sqlite.OpenExisting(context.Background(), path, sqlite.Options{})
					if err != nil {
						return nil, nil, err
					}
					return st, func() { st.Close() }, nil
				}
			} else {
				storeURL = pgtest.URL(t)
				open = func() (alert.Store, func(), error) {
					st, err := postgres.Open(context.Background(), storeURL)
					if err != nil {
						return nil, nil, err
					}
					return st, func() { st.Close() }, nil
				}
			}
			// The alert is written by another process on the same store
			// (this test), as detection on another node would: the server
			// finds it in the outbox.
			raise := func(t *testing.T, _ *clustertest.Cluster, hook alert.Webhook) (string, string) {
				st, closeStore, err := open()
				if err != nil {
					t.Fatal(err)
				}
				defer closeStore()
				a, err := alert.NewService(alert.Config{Store: st, Webhooks: []alert.Webhook{hook}}).Raise(context.Background(),
					detect.Alert{Rule: "refresh_reuse", Severity: detect.SeverityHigh, Action: detect.ActionRevokeSession, UserID: "u-victim",
						SessionID: "s-stolen", ClientID: "app", IP: netip.MustParseAddr("203.0.113.50"), Evidence: map[string]string{"family": "f1"}})
				if err != nil {
					t.Fatal(err)
				}
				return a.ID, "u-victim"
			}
			webhookKill9(t, dir, storeURL, raise, backend == "sqlite")
		})
	}
	// The server's own detection raises it: a refresh token replayed
	// after rotation.
	t.Run("refresh reuse", func(t *testing.T) {
		dir := t.TempDir()
		raise := func(t *testing.T, c *clustertest.Cluster, _ alert.Webhook) (string, string) {
			n := c.Nodes[0]
			if _, err := c.AddUser(n, "victim"); err != nil {
				t.Fatal(err)
			}
			l, err := c.Login(n.Public, "victim", clustertest.Password, "token")
			if err != nil {
				t.Fatal(err)
			}
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {l.Refresh}}
			if code, b, err := c.Form(n.Public+"/oauth2/token", "", "", form); err != nil || code != 200 {
				t.Fatalf("refresh: %d %s %v", code, b, err)
			}
			if code, b, err := c.Form(n.Public+"/oauth2/token", "", "", form); err != nil || code != 400 {
				t.Fatalf("replay: %d %s %v", code, b, err)
			}
			var id string
			eventually(t, "the refresh_reuse alert", func() error {
				code, b, err := c.Admin("GET", n.Admin+"/admin/v1/alerts?rule=refresh_reuse&user_id="+l.UserID, "")
				if err != nil || code != 200 || !strings.Contains(string(b), `"id":"`) {
					return fmt.Errorf("%d %s %v", code, b, err)
				}
				var page struct{ Alerts []struct{ ID string } }
				if err := json.Unmarshal(b, &page); err != nil || len(page.Alerts) != 1 {
					return fmt.Errorf("%s %v", b, err)
				}
				id = page.Alerts[0].ID
				return nil
			})
			return id, l.UserID
		}
		webhookKill9(t, dir, "sqlite:"+filepath.Join(dir, "shared.db"), raise, false, "TESSERA_POLICY_TOKENS_REFRESH_GRACE=0s")
	})
}

// webhookKill9 starts a node on storeURL with a webhook to a receiver,
// has raise queue an alert for it (returning its id and user), kills the
// node before delivery, and checks the restarted node delivers it.
func webhookKill9(t *testing.T, dir, storeURL string, raise func(*testing.T, *clustertest.Cluster, alert.Webhook) (id, user string), midRequest bool, env ...string) {
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	rcv := &hookReceiver{secret: secret, status: http.StatusInternalServerError}
	if midRequest {
		rcv.status = 0
	}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg := filepath.Join(dir, "tessera.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `webhooks:
  - name: siem
    url: %s/hook
    secret: %s
    timeout: 1s
alerts:
  min_backoff: 300ms
  max_backoff: 600ms
policy:
  tokens:
    issuer: %s
`, srv.URL, secret, clustertest.Issuer), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := clustertest.StartCluster(clustertest.ClusterConfig{Binary: binary, Dir: dir, Nodes: 1, Store: storeURL, Config: cfg, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.Logs())
		}
		c.Close()
	})
	node := c.Nodes[0]

	key, err := alert.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	id, user := raise(t, c, alert.Webhook{Name: "siem", URL: srv.URL + "/hook", Secret: key, Timeout: 5 * time.Second})

	if midRequest {
		eventually(t, "an attempt in flight", func() error {
			if n := len(rcv.requests()); n < 1 {
				return fmt.Errorf("%d requests", n)
			}
			return nil
		})
	} else {
		// Refused, and the refusal logged with the retry scheduled.
		eventually(t, "a refused attempt logged", func() error {
			code, b, err := c.Admin("GET", node.Admin+"/admin/v1/webhooks/deliveries?status=pending&alert_id="+id, "")
			if err != nil || code != 200 || !strings.Contains(string(b), `"status_code":500`) {
				return fmt.Errorf("%d %s %v", code, b, err)
			}
			return nil
		})
	}
	if err := node.Kill(); err != nil {
		t.Fatal(err)
	}
	refused := rcv.requests()
	for _, r := range refused {
		if r.err != nil || (r.status != 500 && r.status != 0) {
			t.Fatalf("before the kill: %+v", r)
		}
	}
	rcv.set(http.StatusNoContent)
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	var delivered hookRequest
	// The dead process's lease (the 1 s timeout + 15 s) may have to run
	// out first.
	within(t, settle+20*time.Second, "delivery after the restart", func() error {
		for _, r := range rcv.requests() {
			if r.status == http.StatusNoContent {
				delivered = r
				return nil
			}
		}
		return errors.New("not delivered")
	})
	if delivered.err != nil || delivered.id != refused[0].id || string(delivered.body) != string(refused[0].body) {
		t.Fatalf("delivered %q (err %v), refused %q: want the same webhook-id and body", delivered.id, delivered.err, refused[0].id)
	}
	var p alert.Payload
	if err := json.Unmarshal(delivered.body, &p); err != nil || p.Type != "alert.raised" || p.Data.ID != id || p.Data.UserID != user || p.Data.SessionID == "" || p.Data.Rule != "refresh_reuse" {
		t.Fatalf("payload %s: %v", delivered.body, err)
	}
	// The delivery log, read through the admin API, tells the story.
	eventually(t, "the delivery logged", func() error {
		code, b, err := c.Admin("GET", node.Admin+"/admin/v1/webhooks/deliveries?alert_id="+id, "")
		if err != nil || code != 200 {
			return fmt.Errorf("%d %s %v", code, b, err)
		}
		var log struct {
			Deliveries []struct {
				DeliveryID string `json:"delivery_id"`
				StatusCode int    `json:"status_code"`
				Outcome    string `json:"outcome"`
			} `json:"deliveries"`
		}
		if err := json.Unmarshal(b, &log); err != nil {
			return err
		}
		// The killed attempt never reached the log; a refused one did.
		if len(log.Deliveries) < 1 || log.Deliveries[0].Outcome != store.DeliveryDelivered || log.Deliveries[0].StatusCode != 204 ||
			(!midRequest && log.Deliveries[len(log.Deliveries)-1].StatusCode != 500) || log.Deliveries[0].DeliveryID != delivered.id {
			return fmt.Errorf("log %s", b)
		}
		return nil
	})
	// Delivered: never sent again.
	n := len(rcv.requests())
	time.Sleep(1500 * time.Millisecond) // several polls and backoffs
	if m := len(rcv.requests()); m != n {
		t.Fatalf("%d more requests after delivery", m-n)
	}
}

// within is eventually with its own bound.
func within(t *testing.T, bound time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %v: %v", what, bound, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
