package clustertest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/internal/clustertest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

// TestRedisDown kills the cluster's Redis under three nodes: a revocation
// still reaches every node (by NOTIFY or the feed poll, PostgreSQL being
// the truth), logins are still throttled (per node), and when Redis comes
// back the nodes share their throttles again without a restart.
func TestRedisDown(t *testing.T) {
	store := pgtest.URL(t)
	rd := redistest.Start(t)
	c := startCluster(t, store, 3, "TESSERA_REDIS_URL="+rd.URL(), "TESSERA_POLICY_SESSION_MAX_PER_USER=0")
	a, b, cc := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	users := []string{"alice", "bob", "dave"}
	for i := range 10 {
		users = append(users, fmt.Sprintf("carol%d", i))
	}
	for _, u := range users {
		if _, err := c.AddUser(a, u); err != nil {
			t.Fatal(err)
		}
	}
	redisUp(t, c, "1")
	// With Redis, one account's failures from one address count on every
	// node together: five spread over the nodes empty its bucket.
	if !shared(t, c, "alice") {
		t.Fatal("with Redis up, failed logins spread over the nodes were not counted together")
	}

	l, err := c.Login(a.Public, "dave", clustertest.Password, "cookie")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		if code, err := c.Whoami(n.Public, clustertest.Cred{Bearer: l.Session}); code != 200 {
			t.Fatalf("whoami on %s: %d %v", n.Name, code, err)
		}
	}

	rd.Kill()
	// A revocation still reaches every node.
	if code, body, err := c.Admin("DELETE", b.Admin+"/admin/v1/sessions/"+l.SessionID, ""); code != 204 {
		t.Fatalf("revoke with Redis down: %d %s %v", code, body, err)
	}
	for _, n := range c.Nodes {
		eventually(t, "the revocation on "+n.Name+" with Redis down", func() error {
			if code, err := c.Whoami(n.Public, clustertest.Cred{Bearer: l.Session}); code != 401 {
				return fmt.Errorf("%d %v", code, err)
			}
			return nil
		})
	}
	redisUp(t, c, "0")
	// Logins are still throttled, by each node's own buckets.
	for i := range 5 {
		if code := badLogin(t, cc, "bob"); code != 401 {
			t.Fatalf("failed login %d with Redis down: %d", i, code)
		}
	}
	if code := badLogin(t, cc, "bob"); code != 429 {
		t.Fatalf("sixth failed login on one node with Redis down: %d, want 429", code)
	}
	// And good logins work.
	if _, err := c.Login(a.Public, "dave", clustertest.Password, "token"); err != nil {
		t.Fatalf("login with Redis down: %v", err)
	}

	rd.Restart()
	redisUp(t, c, "1")
	for i, u := range users[3:] {
		if shared(t, c, u) {
			break
		}
		if i == len(users[3:])-1 {
			t.Fatal("after Redis came back, failed logins are still counted per node")
		}
	}
}

// badLogin tries user's wrong password on n and returns the status.
func badLogin(t *testing.T, n *clustertest.Node, user string) int {
	t.Helper()
	code, _, err := clustertest.NewClient("").Status("POST", n.Public+"/v1/login", clustertest.Cred{},
		strings.NewReader(`{"username":"`+user+`","password":"wrong password, wrong"}`), "Content-Type", "application/json")
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// shared spreads five failed logins for user over the nodes (the
// per-account-and-address burst) and reports whether a sixth on the
// last node is throttled, as it is only when the nodes count together.
func shared(t *testing.T, c *clustertest.Cluster, user string) bool {
	t.Helper()
	for i := range 5 {
		if code := badLogin(t, c.Nodes[i%2], user); code != 401 {
			t.Fatalf("failed login %d for %s: %d", i, user, code)
		}
	}
	return badLogin(t, c.Nodes[2], user) == 429
}

// redisUp waits until every node's tessera_redis_up metric says v.
func redisUp(t *testing.T, c *clustertest.Cluster, v string) {
	t.Helper()
	for _, n := range c.Nodes {
		eventually(t, "tessera_redis_up "+v+" on "+n.Name, func() error {
			code, body, err := c.Status("GET", n.Admin+"/metrics", clustertest.Cred{}, nil)
			if code != 200 {
				return fmt.Errorf("metrics: %d %v", code, err)
			}
			for _, line := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(line, "tessera_redis_up ") {
					if strings.TrimSpace(strings.TrimPrefix(line, "tessera_redis_up ")) == v {
						return nil
					}
					return fmt.Errorf("%s", line)
				}
			}
			return fmt.Errorf("no tessera_redis_up")
		})
	}
}
