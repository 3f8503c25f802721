package clustertest_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/internal/clustertest"
)

// ownPostgres starts a PostgreSQL server for t alone, or skips t (fails it
// under CI=true) when initdb and pg_ctl cannot run here.
func ownPostgres(t *testing.T) *clustertest.Postgres {
	t.Helper()
	pg, err := clustertest.StartPostgres()
	if err != nil {
		clustertest.Skip(t, "cannot run a PostgreSQL server of the test's own (initdb, pg_ctl)", err)
	}
	t.Cleanup(pg.Close)
	return pg
}

// TestPostgresDown stops the PostgreSQL server under two running nodes:
// no token is accepted that cannot be checked (503, never a 200 after the
// cache stops being trusted, never "inactive"), /readyz names the store,
// and when PostgreSQL is back both nodes serve again without a restart,
// with every revocation acknowledged before the outage still in force.
func TestPostgresDown(t *testing.T) {
	pg := ownPostgres(t)
	// A fast poll makes the "cache no longer trusted" point (5 failed
	// polls, at least 3 s) come at its 3 s floor.
	c := startCluster(t, pg.URL(), 2, "TESSERA_POLICY_SESSION_REVOCATION_POLL=200ms")
	a, b := c.Nodes[0], c.Nodes[1]
	if _, err := c.AddUser(a, "alice"); err != nil {
		t.Fatal(err)
	}
	rs, secret, err := c.AddClient(a, "rs")
	if err != nil {
		t.Fatal(err)
	}
	cookie, err := c.Login(a.Public, "alice", clustertest.Password, "cookie")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Login(a.Public, "alice", clustertest.Password, "token")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := c.Login(a.Public, "alice", clustertest.Password, "cookie")
	if err != nil {
		t.Fatal(err)
	}
	// A knows every session (it made them); B has seen gone's only.
	if code, err := c.Whoami(b.Public, clustertest.Cred{Bearer: gone.Session}); code != 200 {
		t.Fatalf("whoami on B: %d %v", code, err)
	}
	if code, _, err := c.Status("POST", a.Public+"/v1/logout", clustertest.Cred{Bearer: gone.Session}, nil); code != 204 {
		t.Fatalf("logout: %d %v", code, err)
	}

	// Stopped as a crash would: no shutdown checkpoint.
	if err := pg.Stop("immediate"); err != nil {
		t.Fatal(err)
	}
	checks := map[string]func(n *clustertest.Node) (int, string){
		"cookie whoami": func(n *clustertest.Node) (int, string) {
			code, body, _ := c.Status("GET", n.Public+"/v1/session", clustertest.Cred{Cookie: cookie.Session}, nil)
			return code, string(body)
		},
		"bearer session token": func(n *clustertest.Node) (int, string) {
			code, body, _ := c.Status("GET", n.Public+"/v1/session", clustertest.Cred{Bearer: cookie.Session}, nil)
			return code, string(body)
		},
		"bearer JWT": func(n *clustertest.Node) (int, string) {
			code, body, _ := c.Status("GET", n.Public+"/v1/session", clustertest.Cred{Bearer: tok.Access}, nil)
			return code, string(body)
		},
		"introspection": func(n *clustertest.Node) (int, string) {
			code, body, _ := c.Form(n.Public+"/oauth2/introspect", rs, secret, url.Values{"token": {tok.Access}})
			return code, string(body)
		},
		"feed": func(n *clustertest.Node) (int, string) {
			code, body, _ := c.Status("GET", n.Public+"/v1/revocations", clustertest.Cred{}, nil, "Authorization", basic(rs, secret))
			return code, string(body)
		},
	}
	// B never saw these tokens: nothing to go on but the store, so 503 at
	// once. A cached them: it may answer from its cache until it stops
	// trusting it, then 503 too; never 401 (the client would drop a good
	// token) and never a 200 again once it has said 503.
	for name, check := range checks {
		if code, body := check(b); code != 503 {
			t.Fatalf("%s on B while PostgreSQL is down: %d %s, want 503", name, code, body)
		}
	}
	for name, check := range checks {
		said503 := false
		eventually(t, name+" on A while PostgreSQL is down", func() error {
			code, body := check(a)
			switch {
			case code == 503:
				said503 = true
				return nil
			case code == 200 && !said503 && !strings.Contains(body, `"active":false`):
				return fmt.Errorf("still answered from the cache")
			}
			return fmt.Errorf("%d %s: want 503 (or a cached 200 before the first 503)", code, body)
		})
		for range 3 {
			if code, body := check(a); code != 503 {
				t.Fatalf("%s on A after a 503: %d %s", name, code, body)
			}
		}
	}
	// The session revoked just before the outage was cached as live on B.
	// If B heard of the revocation before PostgreSQL went, it refuses it
	// (401); if not, B serves it from its cache only as long as it trusts
	// the cache (max(5 polls, 3 s) since its last feed read, as for any
	// revocation made elsewhere), then 503; never a 200 after that.
	eventually(t, "the session revoked before the outage, on B", func() error {
		code, err := c.Whoami(b.Public, clustertest.Cred{Bearer: gone.Session})
		switch code {
		case 401, 503:
			return nil
		case 200:
			return fmt.Errorf("still served from B's cache")
		}
		return fmt.Errorf("%d %v", code, err)
	})
	for range 3 {
		if code, err := c.Whoami(b.Public, clustertest.Cred{Bearer: gone.Session}); code != 401 && code != 503 {
			t.Fatalf("revoked session on B while PostgreSQL is down: %d %v", code, err)
		}
	}
	for _, n := range c.Nodes {
		code, body, _ := c.Status("GET", n.Public+"/readyz", clustertest.Cred{}, nil)
		if code != 503 || !strings.Contains(string(body), "store") {
			t.Fatalf("readyz on %s while PostgreSQL is down: %d %s, want 503 naming the store", n.Name, code, body)
		}
	}
	if _, err := c.Login(a.Public, "alice", clustertest.Password, "cookie"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("login while PostgreSQL is down: %v, want 503", err)
	}
	// A revocation that cannot be made durable is not acknowledged.
	if code, body, _ := c.Admin("DELETE", a.Admin+"/admin/v1/sessions/"+cookie.SessionID, ""); code != 503 {
		t.Fatalf("admin revocation while PostgreSQL is down: %d %s, want 503", code, body)
	}

	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		eventually(t, "readyz on "+n.Name+" after PostgreSQL is back", func() error {
			if code, body, _ := c.Status("GET", n.Public+"/readyz", clustertest.Cred{}, nil); code != 200 {
				return fmt.Errorf("%d %s", code, body)
			}
			return nil
		})
		for name, check := range checks {
			eventually(t, name+" on "+n.Name+" after PostgreSQL is back", func() error {
				if code, body := check(n); code != 200 || strings.Contains(body, `"active":false`) {
					return fmt.Errorf("%d %s", code, body)
				}
				return nil
			})
		}
		if code, err := c.Whoami(n.Public, clustertest.Cred{Bearer: gone.Session}); code != 401 {
			t.Fatalf("revoked session on %s after the outage: %d %v", n.Name, code, err)
		}
	}
	if _, err := c.Login(b.Public, "alice", clustertest.Password, "token"); err != nil {
		t.Fatalf("login after the outage: %v", err)
	}
	if code, body, _ := c.Admin("DELETE", b.Admin+"/admin/v1/sessions/"+cookie.SessionID, ""); code != 204 {
		t.Fatalf("admin revocation after the outage: %d %s", code, body)
	}
	for _, n := range c.Nodes {
		eventually(t, "the session revoked after the outage, on "+n.Name, func() error {
			if code, err := c.Whoami(n.Public, clustertest.Cred{Cookie: cookie.Session}); code != 401 {
				return fmt.Errorf("%d %v", code, err)
			}
			return nil
		})
	}
}

// basic is an HTTP Basic Authorization value (client ids and Tessera's
// secrets need no RFC 6749 §2.3.1 form-encoding).
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}
