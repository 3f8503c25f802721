package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// redisNode starts a server over c, logging to log if given, and runs its
// background loops until t ends.
func redisNode(t *testing.T, c config.Config, log ...*slog.Logger) *app.App {
	t.Helper()
	opt := app.Options{AdminToken: adminToken, Access: app.Migrate}
	if len(log) > 0 {
		opt.Logger = log[0]
	}
	a, err := app.New(context.Background(), c, opt)
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
	a := redisNode(t, c)
	b := redisNode(t, c)
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
	// B's follower wakes its /v1/revocations long polls when it reads
	// the revocation: it must read it at once.
	feedWoken := b.Sessions.Follower().Changed()
	if w := do(a.Public(), "POST", "/v1/logout", "", "Bearer "+tok); w.Code != 204 {
		t.Fatalf("logout on A: %d", w.Code)
	}
	select {
	case <-feedWoken:
	case <-time.After(20 * time.Second): // a hang guard; the poll is a minute
		t.Fatal("B's long polls were not woken by a revocation on A")
	}
	deadline := time.Now().Add(20 * time.Second)
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

// syncBuffer is a log destination tests can read while servers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// TestNodesSurviveRedisOutage kills the nodes' Redis (one of the test's
// own): a logout on A still reaches B (by the feed poll), logins are still
// throttled (per node), the outage is logged once and shown in the
// metrics; when Redis is back the nodes use it again by themselves and
// throttle as one again.
func TestNodesSurviveRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	c := testConfig(t)
	c.Redis.URL = srv.URL()
	c.Policy.Login.PerAccountIPBurst = 3
	logs := &syncBuffer{}
	a := redisNode(t, c, slog.New(slog.NewJSONHandler(logs, nil)))
	b := redisNode(t, c)
	ctx := context.Background()
	const pw = "correct horse battery staple"
	for _, u := range []string{"alice", "bob"} {
		if _, err := a.Auth.CreateUser(ctx, u, pw); err != nil {
			t.Fatal(err)
		}
	}
	login := func(n *app.App, user, password string) *http.Response {
		body := `{"username":"` + user + `","password":"` + password + `","delivery":"cookie"}`
		return do(n.Public(), "POST", "/v1/login", body, "").Result()
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second) // a hang guard
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal("never: " + what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	srv.Kill()
	res := login(a, "alice", pw)
	if res.StatusCode != 200 {
		t.Fatalf("login with Redis down: %d", res.StatusCode)
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
		t.Fatalf("logout on A with Redis down: %d", w.Code)
	}
	waitUntil("B refuses a session logged out on A while Redis is down", func() bool {
		return do(b.Public(), "GET", "/v1/session", "", "Bearer "+tok).Code == 401
	})
	for range 3 {
		login(a, "alice", "wrong password!")
	}
	if code := login(a, "alice", pw).StatusCode; code != 429 {
		t.Fatalf("4th attempt on A with Redis down: %d, want 429 (per-node throttle)", code)
	}
	if m := do(a.Admin(), "GET", "/metrics", "", "").Body.String(); !strings.Contains(m, "tessera_redis_up 0") || strings.Contains(m, `tessera_redis_fallback_total{use="throttle"} 0`) {
		t.Fatalf("metrics during the outage:\n%s", grep(m, "tessera_redis"))
	}
	if n := logs.count("redis unavailable"); n != 1 {
		t.Fatalf("%d outage lines, want 1", n)
	}

	srv.Restart()
	waitUntil("both nodes use Redis again", func() bool { return a.Redis.Up() && b.Redis.Up() })
	for range 3 {
		login(a, "bob", "wrong password!")
	}
	if code := login(b, "bob", pw).StatusCode; code != 429 {
		t.Fatalf("after recovery, 3 failures on A then a login on B: %d, want 429 (shared again)", code)
	}
	if n := logs.count("redis available again"); n != 1 {
		t.Fatalf("%d recovery lines, want 1", n)
	}
}

// TestNodesJoinListenerAndRedis: on PostgreSQL with Redis, a node hears
// revocations by both LISTEN/NOTIFY and Redis pub/sub (revocation.Join),
// so either one alone carries a logout to another node long before the
// feed poll (a minute here).
func TestNodesJoinListenerAndRedis(t *testing.T) {
	srv := redistest.Start(t)
	c := pgConfig(t)
	c.Redis.URL = srv.URL()
	a, b := redisNode(t, c), redisNode(t, c)
	if a.Listener == nil || b.Redis == nil {
		t.Fatal("a node on PostgreSQL with Redis lacks the store's listener or Redis")
	}
	ctx := context.Background()
	const pw = "correct horse battery staple"
	if _, err := a.Auth.CreateUser(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	// logoutReaches logs in on A, uses the session on B (caching it
	// there), logs out on A and waits for B to refuse it.
	logoutReaches := func(what string) {
		t.Helper()
		body := `{"username":"alice","password":"` + pw + `","delivery":"cookie"}`
		res := do(a.Public(), "POST", "/v1/login", body, "").Result()
		if res.StatusCode != 200 {
			t.Fatalf("%s: login: %d", what, res.StatusCode)
		}
		var tok string
		for _, ck := range res.Cookies() {
			if strings.HasSuffix(ck.Name, "tessera_session") {
				tok = ck.Value
			}
		}
		if w := do(b.Public(), "GET", "/v1/session", "", "Bearer "+tok); w.Code != 200 {
			t.Fatalf("%s: whoami on B: %d", what, w.Code)
		}
		if w := do(a.Public(), "POST", "/v1/logout", "", "Bearer "+tok); w.Code != 204 {
			t.Fatalf("%s: logout on A: %d", what, w.Code)
		}
		deadline := time.Now().Add(liveness)
		for do(b.Public(), "GET", "/v1/session", "", "Bearer "+tok).Code != 401 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: B still accepts a session logged out on A", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// B stops listening to the store: Redis alone carries it.
	b.Listener.Close()
	logoutReaches("Redis alone")
	// Redis gone: the other way round (A's listener is still open),
	// LISTEN/NOTIFY alone carries it.
	srv.Kill()
	a, b = b, a
	logoutReaches("LISTEN/NOTIFY alone")
}
