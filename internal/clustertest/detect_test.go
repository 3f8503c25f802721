package clustertest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/tessera-auth/tessera/internal/clustertest"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/redisstate/redistest"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

// Browsers the detection test's victim and thief use.
const (
	chromeWin    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
)

// TestDetectionAcrossProcesses: two `tessera serve` processes on one
// PostgreSQL schema, with the detection state in the store and, again,
// in Redis. A session cookie used through node a from one network and
// browser is replayed through node b from another network and browser
// (a trusted proxy's X-Forwarded-For names the client): node b's rules
// see node a's uses, so the default policy revokes the session, and both
// nodes then refuse it. Neither node alone saw two networks.
func TestDetectionAcrossProcesses(t *testing.T) {
	pgtest.ServerURL(t)
	for _, withRedis := range []bool{false, true} {
		name := "store"
		if withRedis {
			name = "redis"
		}
		t.Run(name, func(t *testing.T) {
			store := pgtest.URL(t)
			env := []string{"TESSERA_TRUSTED_PROXIES=127.0.0.1/32"}
			var redisURL, prefix string
			if withRedis {
				redisURL = redistest.URL(t)
				prefix = redistest.Prefix(t, redisURL)
				env = append(env, "TESSERA_REDIS_URL="+redisURL, "TESSERA_REDIS_PREFIX="+prefix)
			}
			c := startCluster(t, store, 2, env...)
			a, b := c.Nodes[0], c.Nodes[1]
			if _, err := c.AddUser(a, "alice"); err != nil {
				t.Fatal(err)
			}
			from := func(ip, ua string) []string { return []string{"X-Forwarded-For", ip, "User-Agent", ua} }
			victim, thief := from("198.51.100.7", chromeWin), from("203.0.113.66", firefoxLinux)

			body := fmt.Sprintf(`{"username":"alice","password":%q,"delivery":"cookie"}`, clustertest.Password)
			req, _ := http.NewRequest("POST", a.Public+"/v1/login", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i < len(victim); i += 2 {
				req.Header.Set(victim[i], victim[i+1])
			}
			res, err := c.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var cookie string
			for _, ck := range res.Cookies() {
				if ck.Name == clustertest.SessionCookie {
					cookie = ck.Value
				}
			}
			if res.StatusCode != 200 || cookie == "" {
				t.Fatalf("login on a: %d %s", res.StatusCode, resp)
			}
			sid := between(string(resp), `"session":{"id":"`, `"`)
			whoami := func(n *clustertest.Node, h []string) int {
				t.Helper()
				code, _, err := c.Status("GET", n.Public+"/v1/session", clustertest.Cred{Cookie: cookie}, nil, h...)
				if err != nil {
					t.Fatal(err)
				}
				return code
			}
			for range 3 {
				if code := whoami(a, victim); code != 200 {
					t.Fatalf("the victim on a: %d", code)
				}
			}
			// Node a's rules run off the request path: wait until they
			// have recorded the session's network where both nodes keep
			// it (detect's session_networks key), as node b's rules would
			// otherwise race them.
			key := "sn:" + sid
			eventually(t, "node a's rules recorded the session's network", func() error {
				var n int64
				var err error
				if withRedis {
					n, err = redisSeen(c.MasterKey, redisURL, prefix, key)
				} else {
					n, err = storeSeen(store, key)
				}
				if err == nil && n == 0 {
					err = fmt.Errorf("nothing under %s yet", key)
				}
				return err
			})
			whoami(b, thief)
			eventually(t, "the replayed cookie is refused on both nodes", func() error {
				if code := whoami(b, thief); code != 401 {
					return fmt.Errorf("b answers the thief %d", code)
				}
				if code := whoami(a, victim); code != 401 {
					return fmt.Errorf("a answers %d", code)
				}
				return nil
			})
			logs := c.Logs()
			if !strings.Contains(logs, `"msg":"detection rule fired"`) || !strings.Contains(logs, `"rule":"device_change"`) || !strings.Contains(logs, sid) {
				t.Fatalf("no device_change firing naming session %s in the nodes' logs", sid)
			}
		})
	}
}

// storeSeen counts the members the store keeps under key.
func storeSeen(store, key string) (int64, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, store)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, "SELECT count(*) FROM detect_seen WHERE key = $1", key).Scan(&n)
	return n, err
}

// redisSeen counts the members Redis keeps under key, named as
// redisstate names it: a keyed hash under the master key's
// "redis-key-names/v1" key, in a hash tag.
func redisSeen(master, url, prefix, key string) (int64, error) {
	m, err := keys.ParseMasterKey(master)
	if err != nil {
		return 0, err
	}
	secret, err := m.Derive("redis-key-names/v1")
	if err != nil {
		return 0, err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(key))
	o, err := redis.ParseURL(url)
	if err != nil {
		return 0, err
	}
	rdb := redis.NewClient(o)
	defer rdb.Close()
	return rdb.ZCard(context.Background(), prefix+"detect:seen:{"+hex.EncodeToString(mac.Sum(nil)[:16])+"}").Result()
}

// between returns what s holds between start and the next end.
func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}
