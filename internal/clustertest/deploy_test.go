package clustertest_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/internal/clustertest"
	"github.com/tessera-auth/tessera/redisstate/redistest"
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
			case "TESSERA_STORE", "TESSERA_MASTER_KEY", "TESSERA_ADMIN_TOKEN", "TESSERA_LISTEN", "TESSERA_ADMIN_LISTEN", "TESSERA_REDIS_URL", "TESSERA_REDIS_PREFIX":
				// Placeholders and fixed ports: the test brings its own.
			default:
				env = append(env, k+"="+v)
			}
		}
	}
	store := pgtest.URL(t)
	ru := redistest.URL(t)
	env = append(env, "TESSERA_REDIS_URL="+ru, "TESSERA_REDIS_PREFIX="+redistest.Prefix(t, ru))
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

	t.Run("behind deploy/nginx.conf", func(t *testing.T) { behindNginx(t, c) })

	// A fourth node configured with another issuer refuses to join.
	odd := clustertest.NodeConfig{Binary: binary, Dir: t.TempDir(), Args: []string{"--config", cfgFile},
		Env: append(append([]string{"TESSERA_STORE=" + store, "TESSERA_ADMIN_TOKEN=" + c.AdminToken, "TESSERA_MASTER_KEY=" + c.MasterKey}, env...),
			"TESSERA_POLICY_TOKENS_ISSUER=https://elsewhere.example.com")}
	if n, err := clustertest.StartNode(odd, "d"); err == nil {
		n.Close()
		t.Fatal("a node with another issuer joined the cluster")
	} else if !strings.Contains(err.Error(), "https://elsewhere.example.com") || !strings.Contains(err.Error(), cfg.Policy.Tokens.Issuer) {
		t.Fatalf("a node with another issuer: %v, want both issuers named", err)
	}
}

// behindNginx puts deploy/nginx.conf (its upstreams, port and certificate
// paths replaced) in front of the nodes, with a certificate made here, and
// kills a node under it: clients of the load balancer carry on, and a
// logout through it holds on every node.
func behindNginx(t *testing.T, c *clustertest.Cluster) {
	site, err := os.ReadFile("../../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := clustertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pool := selfSigned(t, dir, "auth.example.com")
	conf := strings.NewReplacer(
		"127.0.0.1:8080", strings.TrimPrefix(c.Nodes[0].Public, "http://"),
		"127.0.0.1:8090", strings.TrimPrefix(c.Nodes[1].Public, "http://"),
		"127.0.0.1:8100", strings.TrimPrefix(c.Nodes[2].Public, "http://"),
		"listen 443 ", "listen "+lb+" ",
		"/etc/ssl/tessera/", dir+"/",
	).Replace(string(site))
	for _, want := range []string{c.Nodes[0].Public[7:], c.Nodes[2].Public[7:], "listen " + lb, dir + "/fullchain.pem"} {
		if !strings.Contains(conf, want) {
			t.Fatalf("deploy/nginx.conf changed shape: no %q after rewriting", want)
		}
	}
	ng, err := clustertest.StartNginx(conf, lb)
	if err != nil {
		clustertest.Skip(t, "cannot run nginx", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(ng.Log())
		}
		ng.Close()
	})
	client := clustertest.NewClient(c.AdminToken)
	client.HTTP.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "auth.example.com"}}
	base := "https://" + lb
	l, err := client.Login(base, "alice", clustertest.Password, "cookie")
	if err != nil {
		t.Fatal(err)
	}
	cred := clustertest.Cred{Cookie: l.Session}
	for i := range 6 {
		if code, err := client.Whoami(base, cred); code != 200 {
			t.Fatalf("whoami %d through nginx: %d %v", i, code, err)
		}
	}
	if err := c.Nodes[1].Kill(); err != nil {
		t.Fatal(err)
	}
	for i := range 9 {
		if code, err := client.Whoami(base, cred); code != 200 {
			t.Fatalf("whoami %d through nginx with node b killed: %d %v", i, code, err)
		}
	}
	code, body, err := client.Status("GET", base+"/v1/session", cred, nil)
	var who struct {
		CSRF string `json:"csrf_token"`
	}
	if json.Unmarshal(body, &who); code != 200 || who.CSRF == "" {
		t.Fatalf("whoami: %d %v", code, err)
	}
	csrf := who.CSRF
	// A cookie logout through the load balancer, as a browser on the
	// public origin sends it.
	if code, body, err := client.Status("POST", base+"/v1/logout", cred, nil, "X-CSRF-Token", csrf, "Origin", "https://auth.example.com"); code != 204 {
		t.Fatalf("logout through nginx: %d %s %v", code, body, err)
	}
	if err := c.Nodes[1].Start(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		eventually(t, "the logout through nginx, on "+n.Name, func() error {
			if code, err := c.Whoami(n.Public, cred); code != 401 {
				return fmt.Errorf("%d %v", code, err)
			}
			return nil
		})
	}
	for range 6 {
		if code, err := client.Whoami(base, cred); code != 401 {
			t.Fatalf("whoami through nginx after logout: %d %v", code, err)
		}
	}
}

// selfSigned writes a certificate for name (and its key) as dir's
// fullchain.pem and privkey.pem, and returns a pool that trusts it.
func selfSigned(t *testing.T, dir, name string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "fullchain.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "privkey.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
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
