package clustertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tessera-auth/tessera/internal/clustertest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

// TestCluster runs three real `tessera serve` processes on one PostgreSQL
// schema (started together: they migrate once) and checks that what one
// node does, every node honours, for each way the nodes hear of each
// other's revocations: PostgreSQL NOTIFY (the default), NOTIFY and Redis
// pub/sub (with Redis also sharing login throttles), and the feed poll
// alone (every notification lost).
func TestCluster(t *testing.T) {
	server := pgtest.ServerURL(t)
	modes := []struct {
		name  string
		setup func(t *testing.T, store string) []string
	}{
		{"notify", func(*testing.T, string) []string { return nil }},
		{"redis", func(t *testing.T, store string) []string {
			u := redistest.URL(t)
			return []string{"TESSERA_REDIS_URL=" + u, "TESSERA_REDIS_PREFIX=" + redistest.Prefix(t, u)}
		}},
		{"poll only", func(t *testing.T, store string) []string {
			env, cleanup, err := clustertest.PollOnly(context.Background(), binary, server, store)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cleanup)
			return env
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			store := pgtest.URL(t)
			clusterSuite(t, store, m.setup(t, store))
		})
	}
}

// clusterSuite checks three nodes on store, started with env.
// refresh_grace is 0 so that the refresh race has one possible outcome (a
// grace retry is a second 200 by design).
func clusterSuite(t *testing.T, store string, env []string) {
	c := startCluster(t, store, 3, append(env, "TESSERA_POLICY_TOKENS_REFRESH_GRACE=0s", "TESSERA_POLICY_SESSION_MAX_PER_USER=0")...)
	a, b, cc := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	// Started together on an empty schema, they migrated it once.
	migrated := 0
	for _, n := range c.Nodes {
		if strings.Contains(n.Banner, "applied migrations") {
			migrated++
		}
	}
	if migrated != 1 {
		t.Fatalf("%d nodes applied migrations, want 1", migrated)
	}
	if _, err := c.AddUser(a, "alice"); err != nil {
		t.Fatal(err)
	}
	rs, secret, err := c.AddClient(b, "rs")
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string // every raw token, to look for in the logs

	t.Run("revoke on one node, refused on every node", func(t *testing.T) {
		cookie, err := c.Login(a.Public, "alice", clustertest.Password, "cookie")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.Login(a.Public, "alice", clustertest.Password, "token")
		if err != nil {
			t.Fatal(err)
		}
		denied, err := c.Login(b.Public, "alice", clustertest.Password, "token")
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, cookie.Session, tok.Access, tok.Refresh, denied.Access, denied.Refresh)
		creds := map[string]clustertest.Cred{
			"session cookie":          {Cookie: cookie.Session},
			"session bearer":          {Bearer: cookie.Session},
			"access token (JWT)":      {Bearer: tok.Access},
			"access token (RFC 7009)": {Bearer: denied.Access},
		}
		// Logged in on A, used on B (and C, so every node has them cached:
		// a revocation must evict, not merely miss).
		for _, n := range c.Nodes {
			for name, cred := range creds {
				if code, err := c.Whoami(n.Public, cred); code != 200 {
					t.Fatalf("whoami on %s by %s: %d %v", n.Name, name, code, err)
				}
			}
			for _, at := range []string{tok.Access, denied.Access} {
				if active, err := introspect(c, n, rs, secret, at); !active {
					t.Fatalf("introspect on %s: inactive %v", n.Name, err)
				}
			}
		}

		// Revoke on C: logout (the holder), an admin revocation, and
		// RFC 7009 revocation of one access token (its jti denied).
		if code, _, err := c.Status("POST", cc.Public+"/v1/logout", clustertest.Cred{Bearer: cookie.Session}, nil); code != 204 {
			t.Fatalf("logout on C: %d %v", code, err)
		}
		if code, body, err := c.Admin("DELETE", cc.Admin+"/admin/v1/sessions/"+tok.SessionID, ""); code != 204 {
			t.Fatalf("admin revoke on C: %d %s %v", code, body, err)
		}
		if code, body, err := c.Form(cc.Public+"/oauth2/revoke", "", "", url.Values{"token": {denied.Access}}); code != 200 {
			t.Fatalf("RFC 7009 revoke on C: %d %s %v", code, body, err)
		}
		for _, n := range c.Nodes {
			for name, cred := range creds {
				eventually(t, "whoami on "+n.Name+" by the revoked "+name, func() error {
					code, err := c.Whoami(n.Public, cred)
					if code != 401 {
						return fmt.Errorf("status %d %v", code, err)
					}
					return nil
				})
			}
			for _, at := range []string{tok.Access, denied.Access} {
				eventually(t, "introspection on "+n.Name+" of a revoked access token", func() error {
					if active, err := introspect(c, n, rs, secret, at); active || err != nil {
						return fmt.Errorf("active %v, %v", active, err)
					}
					return nil
				})
			}
		}
		// The RFC 7009 revocation denied one access token, not its session.
		if code, _, _ := c.Form(a.Public+"/oauth2/token", "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {denied.Refresh}}); code != 200 {
			t.Fatalf("the session of a revoked access token can no longer refresh: %d", code)
		}
	})

	t.Run("the same refresh token on three nodes at once: one winner", func(t *testing.T) {
		for round := range 5 {
			l, err := c.Login(c.Nodes[round%3].Public, "alice", clustertest.Password, "token")
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, l.Access, l.Refresh)
			codes := race(t, c, l.Refresh)
			wins, winner := 0, ""
			for i, r := range codes {
				switch {
				case r.code == 200:
					wins++
					winner = r.refresh
				case r.code == 400 && strings.Contains(r.body, `"invalid_grant"`):
				default:
					t.Fatalf("round %d, node %s: %d %s", round, c.Nodes[i].Name, r.code, r.body)
				}
			}
			if wins != 1 {
				var got []int
				for _, r := range codes {
					got = append(got, r.code)
				}
				t.Fatalf("round %d: %d successes, want exactly 1: statuses %v", round, wins, got)
			}
			// Without a grace window the losers were reuse: the family and
			// its session end (RFC 9700 §4.14.2), on every node.
			for _, n := range c.Nodes {
				if code, _, _ := c.Form(n.Public+"/oauth2/token", "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {winner}}); code != 400 {
					t.Fatalf("round %d: the winner's successor after reuse on %s: %d", round, n.Name, code)
				}
				eventually(t, "the raced session's access token on "+n.Name, func() error {
					if code, err := c.Whoami(n.Public, clustertest.Cred{Bearer: l.Access}); code != 401 {
						return fmt.Errorf("status %d %v", code, err)
					}
					return nil
				})
			}
		}
	})

	t.Run("kill -9 during a revoke storm: every acknowledged revocation holds", func(t *testing.T) {
		storm(t, c, &tokens)
	})

	// No raw token in any node's log, even after a storm and a kill.
	logs := c.Logs()
	for _, tok := range tokens {
		if tok != "" && strings.Contains(logs, tok) {
			t.Fatalf("a raw token is in a node's log")
		}
	}
}

func introspect(c *clustertest.Cluster, n *clustertest.Node, id, secret, tok string) (bool, error) {
	code, body, err := c.Form(n.Public+"/oauth2/introspect", id, secret, url.Values{"token": {tok}})
	if err != nil {
		return false, err
	}
	if code != 200 {
		return false, fmt.Errorf("introspect on %s: %d %s", n.Name, code, body)
	}
	var m struct{ Active bool }
	if err := json.Unmarshal(body, &m); err != nil {
		return false, err
	}
	return m.Active, nil
}

type raced struct {
	code    int
	body    string
	refresh string
}

// race presents one refresh token to every node at the same instant, each
// over a connection opened beforehand.
func race(t *testing.T, c *clustertest.Cluster, rt string) []raced {
	t.Helper()
	out := make([]raced, len(c.Nodes))
	clients := make([]*clustertest.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		clients[i] = clustertest.NewClient("")
		defer clients[i].HTTP.CloseIdleConnections()
		if code, _, err := clients[i].Status("GET", n.Public+"/healthz", clustertest.Cred{}, nil); code != 200 {
			t.Fatalf("healthz on %s: %d %v", n.Name, code, err)
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, body, err := clients[i].Form(n.Public+"/oauth2/token", "", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			if err != nil {
				out[i] = raced{body: err.Error()}
				return
			}
			var m struct {
				RefreshToken string `json:"refresh_token"`
			}
			json.Unmarshal(body, &m)
			out[i] = raced{code: code, body: string(body), refresh: m.RefreshToken}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// storm revokes many sessions concurrently through every node in three
// ways (admin, logout, RFC 7009), kills node B with SIGKILL a third of the
// way in, restarts it, and checks that every revocation that was
// acknowledged (2xx) is honoured by every node, and that the nodes agree
// with the store about the ones whose answer was lost.
func storm(t *testing.T, c *clustertest.Cluster, tokens *[]string) {
	const n, workers = 150, 12
	logins := make([]clustertest.Login, n)
	var mu sync.Mutex
	var firstErr error
	parallel(n, 8, func(i int) {
		l, err := c.Login(c.Nodes[i%3].Public, "alice", clustertest.Password, "cookie")
		mu.Lock()
		defer mu.Unlock()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		logins[i] = l
	})
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	for _, l := range logins {
		*tokens = append(*tokens, l.Session)
	}
	// Every node caches every session before the storm.
	parallel(n, 8, func(i int) {
		for _, node := range c.Nodes {
			if code, err := c.Whoami(node.Public, clustertest.Cred{Bearer: logins[i].Session}); code != 200 {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("warm %s on %s: %d %v", logins[i].SessionID, node.Name, code, err)
				}
				mu.Unlock()
			}
		}
	})
	if firstErr != nil {
		t.Fatal(firstErr)
	}

	victim := c.Nodes[1]
	acked := make([]bool, n)
	var done atomic.Int64
	var killed sync.WaitGroup
	killed.Add(1)
	var killOnce sync.Once
	var ackedBefore, ackedAfter atomic.Int64
	var killErr error
	var isKilled atomic.Bool
	parallel(n, workers, func(i int) {
		node := c.Nodes[i%3]
		l := logins[i]
		var code int
		switch (i / 3) % 3 {
		case 0:
			code, _, _ = c.Admin("DELETE", node.Admin+"/admin/v1/sessions/"+l.SessionID, "")
		case 1:
			code, _, _ = c.Status("POST", node.Public+"/v1/logout", clustertest.Cred{Bearer: l.Session}, nil)
		case 2:
			code, _, _ = c.Form(node.Public+"/oauth2/revoke", "", "", url.Values{"token": {l.Session}})
		}
		if code >= 200 && code < 300 {
			acked[i] = true
			if isKilled.Load() {
				ackedAfter.Add(1)
			} else {
				ackedBefore.Add(1)
			}
		}
		if done.Add(1) == n/3 {
			killOnce.Do(func() {
				go func() {
					defer killed.Done()
					killErr = victim.Kill()
					isKilled.Store(true)
				}()
			})
		}
	})
	killed.Wait()
	if killErr != nil {
		t.Fatal(killErr)
	}
	lost := 0
	for _, a := range acked {
		if !a {
			lost++
		}
	}
	t.Logf("storm: %d revocations, %d acknowledged before the kill, %d after, %d unanswered or refused", n, ackedBefore.Load(), ackedAfter.Load(), lost)
	if ackedBefore.Load() == 0 || ackedAfter.Load() == 0 || lost == 0 {
		t.Fatalf("the kill did not fall in the middle of the storm")
	}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}

	// The store's word on each session, then every node must agree with it.
	revoked := make([]bool, n)
	parallel(n, 8, func(i int) {
		code, body, err := c.Admin("GET", c.Nodes[0].Admin+"/admin/v1/sessions/"+logins[i].SessionID, "")
		var s struct {
			RevokedAt string `json:"revoked_at"`
		}
		json.Unmarshal(body, &s)
		mu.Lock()
		defer mu.Unlock()
		if code != 200 && firstErr == nil {
			firstErr = fmt.Errorf("admin session %s: %d %s %v", logins[i].SessionID, code, body, err)
		}
		revoked[i] = s.RevokedAt != ""
	})
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	for i := range n {
		if acked[i] && !revoked[i] {
			t.Fatalf("session %d: revocation acknowledged but not in the store", i)
		}
	}
	for _, node := range c.Nodes {
		eventually(t, "every node agrees with the store after the storm ("+node.Name+")", func() error {
			var bad []string
			for i := range n {
				code, err := c.Whoami(node.Public, clustertest.Cred{Bearer: logins[i].Session})
				want := 200
				if revoked[i] {
					want = 401
				}
				if code != want {
					bad = append(bad, fmt.Sprintf("%d (acked %v): %d %v", i, acked[i], code, err))
				}
			}
			if len(bad) > 0 {
				return fmt.Errorf("%d sessions disagree, first %s", len(bad), bad[0])
			}
			return nil
		})
	}
}

// parallel runs f(0..n-1) on w goroutines.
func parallel(n, w int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
