package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// node starts a server over c and runs its background loops until t ends.
func node(t *testing.T, c config.Config) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), c, app.Options{AdminToken: adminToken, Access: app.Migrate})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	return a
}

// TestNodesShareRedis: two nodes on one store and one Redis throttle
// logins as one, a logout on one ends the session on the other without
// waiting for the feed poll (set to a minute here), and the metrics say
// Redis is up.
func TestNodesShareRedis(t *testing.T) {
	url := redistest.URL(t)
	c := testConfig(t)
	c.Redis.URL, c.Redis.Prefix = url, redistest.Prefix(t, url)
	c.Policy.Session.RevocationPoll = config.Duration(time.Minute)
	c.Policy.Login.PerAccountIPBurst = 3
	a := node(t, c)
	b := node(t, c)
	ctx := context.Background()
	const pw = "correct horse battery staple"
	if _, err := a.Auth.CreateUser(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	login := func(n *app.App, password string) *http.Response {
		body := `{"username":"alice","password":"` + password + `","delivery":"cookie"}`
		return do(n.Public(), "POST", "/v1/login", body, "").Result()
	}

	// Revocation: logged in on A, used on B (now in B's cache), logged
	// out on A: B refuses it long before its next feed poll.
	res := login(a, pw)
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	var tok string
	for _, ck := range res.Cookies() {
		if strings.HasSuffix(ck.Name, "tessera_session") {
			tok = ck.Value
		}
	}
	if w := do(b.Public(), "GET", "/v1/session", "", "Bearer "+tok); w.Code != 200 {
		t.Fatalf("whoami on B: %d", w.Code)
	}
	if w := do(a.Public(), "POST", "/v1/logout", "", "Bearer "+tok); w.Code != 204 {
		t.Fatalf("logout on A: %d", w.Code)
	}
	deadline := time.Now().Add(20 * time.Second) // a hang guard; the poll is a minute
	for do(b.Public(), "GET", "/v1/session", "", "Bearer "+tok).Code != 401 {
		if time.Now().After(deadline) {
			t.Fatal("B still accepts a session logged out on A: the revocation did not fan out")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Throttles: three failures on A, and B refuses the fourth attempt
	// from that address, right password or not.
	for range 3 {
		if code := login(a, "wrong password!").StatusCode; code != 401 {
			t.Fatalf("failed login: %d", code)
		}
	}
	if code := login(b, pw).StatusCode; code != 429 {
		t.Fatalf("after 3 failures on A, a login on B: %d, want 429", code)
	}

	m := do(b.Admin(), "GET", "/metrics", "", "").Body.String()
	for _, want := range []string{"tessera_redis_up 1", `tessera_redis_fallback_total{use="throttle"} 0`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
