package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// TestDetectionAcrossNodes: two nodes on one PostgreSQL schema, without
// Redis (state in the store) and with it. A cookie used on node A from
// one network and browser is replayed on node B from another network and
// browser: B's rules see A's use, so the default policy revokes the
// session, and the firing names the victim. Each node alone would have
// seen one network and one browser: nothing to fire on.
func TestDetectionAcrossNodes(t *testing.T) {
	for _, withRedis := range []bool{false, true} {
		name := "store"
		if withRedis {
			name = "redis"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			clock := clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
			c := pgConfig(t)
			if withRedis {
				url := redistest.URL(t)
				c.Redis.URL, c.Redis.Prefix = url, redistest.Prefix(t, url)
			}
			start := func(logs *logBuffer) *app.App {
				t.Helper()
				n, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken, Now: clock.Now,
					Logger: slog.New(slog.NewJSONHandler(logs, nil))})
				if err != nil {
					t.Fatal(err)
				}
				done := make(chan error)
				go func() { done <- n.Run(ctx) }()
				t.Cleanup(func() { cancel(); <-done; n.Close() })
				return n
			}
			logsA, logsB := &logBuffer{}, &logBuffer{}
			a, b := start(logsA), start(logsB)
			const pw = "correct horse battery staple"
			w := do(a.Admin(), "POST", "/admin/v1/users", `{"username":"alice","password":"`+pw+`"}`, "Bearer "+adminToken)
			if w.Code != 201 {
				t.Fatalf("create user: %d %s", w.Code, w.Body)
			}
			alice := between(w.Body.String(), `"id":"`, `"`)
			w = browse(a.Public(), "POST", "/v1/login", `{"username":"alice","password":"`+pw+`"}`, "", "198.51.100.7:50000", chromeWin)
			if w.Code != 200 {
				t.Fatalf("login: %d %s", w.Code, w.Body)
			}
			var cookie string
			for _, ck := range w.Result().Cookies() {
				if ck.Name == "__Host-tessera_session" {
					cookie = ck.Value
				}
			}
			who := browse(a.Public(), "GET", "/v1/session", "", cookie, "198.51.100.7:50001", chromeWin)
			sid := between(who.Body.String(), `"session":{"id":"`, `"`)
			for range 3 {
				clock.Add(time.Minute)
				if w := browse(a.Public(), "GET", "/v1/session", "", cookie, "198.51.100.7:50001", chromeWin); w.Code != 200 {
					t.Fatalf("victim on node A: %d", w.Code)
				}
			}
			if err := a.FlushDetection(ctx); err != nil {
				t.Fatal(err)
			}
			clock.Add(10 * time.Minute)
			browse(b.Public(), "GET", "/v1/session", "", cookie, "203.0.113.66:40000", firefoxLinux) // the thief, on node B
			if err := b.FlushDetection(ctx); err != nil {
				t.Fatal(err)
			}
			var fired []map[string]any
			for _, f := range logsB.firings(t) {
				if f["rule"] == detect.RuleDeviceChange {
					fired = append(fired, f)
				}
			}
			if len(fired) != 1 || fired[0]["user_id"] != alice || fired[0]["session_id"] != sid || fired[0]["action"] != "revoke_session" {
				t.Fatalf("node B fired %v (node A %v); want device_change revoking alice's session %s", logsB.firings(t), logsA.firings(t), sid)
			}
			if w := browse(b.Public(), "GET", "/v1/session", "", cookie, "203.0.113.66:40000", firefoxLinux); w.Code != 401 {
				t.Fatalf("the thief's next request on node B: %d, want 401", w.Code)
			}
			// Node A learns of the revocation from NOTIFY (or Redis): a
			// liveness bound, far below the feed poll of a minute.
			for deadline := time.Now().Add(liveness); ; time.Sleep(10 * time.Millisecond) {
				if w := browse(a.Public(), "GET", "/v1/session", "", cookie, "198.51.100.7:50001", chromeWin); w.Code == 401 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("node A still accepts the contained session after %v", liveness)
				}
			}
		})
	}
}
