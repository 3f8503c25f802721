package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/redisstate/redistest"
)

// TestRevokeTellsServersByRedis: `session revoke --redis URL` reaches a
// server on that Redis at once, not at its next feed poll (a minute here),
// and serve names its Redis without the password.
func TestRevokeTellsServersByRedis(t *testing.T) {
	url := redistest.URL(t)
	prefix := "TESSERA_REDIS_PREFIX=" + redistest.Prefix(t, url)
	data := filepath.Join(t.TempDir(), "tessera-data")
	if _, e, code := tessera(t, data, "", nil, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", e)
	}
	if _, e, code := tessera(t, data, pw+"\n", nil, "user", "add", "erin", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s", e)
	}
	r := serve(t, data, "TESSERA_REDIS_URL="+url, prefix, "TESSERA_POLICY_SESSION_REVOCATION_POLL=1m")
	if !strings.Contains(r.banner, "redis") {
		t.Errorf("the banner does not name the Redis:\n%s", r.banner)
	}
	tok, id := login(t, r, "erin")
	if whoami(t, r, tok) != 200 {
		t.Fatal("fresh session refused")
	}
	if _, e, code := tessera(t, data, "", []string{prefix}, "session", "revoke", id, "--redis", url); code != 0 {
		t.Fatalf("session revoke --redis: %d %s", code, e)
	}
	waitFor(t, 20*time.Second, func() bool { return whoami(t, r, tok) == 401 }) // a hang guard; the poll is 1m
}
