package clustertest_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/internal/clustertest"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
	"go.yaml.in/yaml/v3"
)

// TestDeployExample runs three nodes on deploy/'s shared configuration file
// and the non-secret settings of its systemd environment files (the
// secrets, the store and the ports are the test's own): the file is one
// this binary accepts, and the nodes it makes share one issuer.
func TestDeployExample(t *testing.T) {
	cfgFile, err := filepath.Abs("../../deploy/tessera.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Policy struct {
			Tokens struct{ Issuer string }
		}
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil || cfg.Policy.Tokens.Issuer == "" {
		t.Fatalf("deploy/tessera.yaml names no issuer: %v", err)
	}
	var env []string
	for _, f := range []string{"cluster.env", "a.env", "b.env", "c.env"} {
		for k, v := range envFile(t, "../../deploy/systemd/"+f) {
			switch k {
			case "TESSERA_STORE", "TESSERA_MASTER_KEY", "TESSERA_ADMIN_TOKEN", "TESSERA_LISTEN", "TESSERA_ADMIN_LISTEN":
				// Placeholders and fixed ports: the test brings its own.
			default:
				env = append(env, k+"="+v)
			}
		}
	}
	store := pgtest.URL(t)
	c, err := clustertest.StartCluster(clustertest.ClusterConfig{Binary: binary, Dir: t.TempDir(), Nodes: 3, Store: store, Config: cfgFile, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.Logs())
		}
		c.Close()
	})
	if _, err := c.AddUser(c.Nodes[0], "alice"); err != nil {
		t.Fatal(err)
	}
	l, err := c.Login(c.Nodes[0].Public, "alice", clustertest.Password, "token")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(l.Access, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Iss string }
	json.Unmarshal(payload, &claims)
	if claims.Iss != cfg.Policy.Tokens.Issuer {
		t.Fatalf("iss %q, want the configured %q", claims.Iss, cfg.Policy.Tokens.Issuer)
	}
	for _, n := range c.Nodes {
		if code, err := c.Whoami(n.Public, clustertest.Cred{Bearer: l.Access}); code != 200 {
			t.Fatalf("an access token from node a on node %s: %d %v", n.Name, code, err)
		}
	}
}

// envFile reads a systemd EnvironmentFile of KEY=VALUE lines and comments.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "TESSERA_") {
			t.Fatalf("%s: not a TESSERA_ setting: %q", path, line)
		}
		m[k] = v
	}
	return m
}
