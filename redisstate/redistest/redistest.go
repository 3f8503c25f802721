// Package redistest gives tests the machine's Redis under a key prefix of
// their own, or a redis-server of their own that they can kill and
// restart. Without Redis the tests skip with a visible message; with
// CI=true they fail instead.
package redistest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is the server tests use unless TESSERA_TEST_REDIS names
// another.
const DefaultURL = "redis://127.0.0.1:6379"

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true runs these tests, never skips them", msg)
	}
	t.Skipf("SKIP: %s (CI=true fails instead)", msg)
}

// URL returns the test server's URL, or skips t (fails it under CI=true)
// if it does not answer.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TESSERA_TEST_REDIS")
	if u == "" {
		u = DefaultURL
	}
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("TESSERA_TEST_REDIS: %v", err)
	}
	o.MaxRetries = -1
	c := redis.NewClient(o)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(t, "no Redis at %s (set TESSERA_TEST_REDIS): %v", o.Addr, err)
	}
	return u
}

// Prefix returns a key prefix no other test or run uses, and deletes its
// keys when t ends.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	p := "tessera-test-" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		o, err := redis.ParseURL(url)
		if err != nil {
			return
		}
		c := redis.NewClient(o)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return p
}

// Server is a redis-server of a test's own, on a free loopback port with
// its files in a temporary folder, persisting nothing.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	conf string   // a config file, first argument, if any
	tls  bool     // TLS only, on port
	args []string // further arguments at every start
}

// Start starts a server for t, stopped when t ends; it skips t (fails it
// under CI=true) if redis-server is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

func newServer(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "no redis-server to start: %v", err)
	}
	return &Server{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
}

// freePort returns a free loopback port whose Cluster bus port (+10000)
// is free too.
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 > 65535 {
			continue
		}
		if bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
			bus.Close()
			return port
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// StartTLS starts a server that speaks only TLS, with a self-signed
// certificate for 127.0.0.1 (so a client must skip verification, or fail).
func StartTLS(t testing.TB) *Server {
	t.Helper()
	s := newServer(t)
	cert, key := filepath.Join(s.dir, "cert.pem"), filepath.Join(s.dir, "key.pem")
	selfSigned(t, cert, key)
	s.tls = true
	s.args = []string{"--tls-port", strconv.Itoa(s.port), "--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no"}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

func selfSigned(t testing.TB, certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartSentinel starts a Sentinel watching master under the name
// "mymaster" and waits until it knows the master's address.
func StartSentinel(t testing.TB, master *Server) *Server {
	t.Helper()
	s := newServer(t)
	s.conf = filepath.Join(s.dir, "sentinel.conf")
	conf := fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 1\n", master.port)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = []string{"--sentinel"}
	s.Restart()
	t.Cleanup(s.Kill)
	c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	until(t, "the sentinel knows the master", func() bool {
		a, err := c.GetMasterAddrByName(context.Background(), "mymaster").Result()
		return err == nil && len(a) == 2 && a[1] == strconv.Itoa(master.port)
	})
	return s
}

// StartCluster starts a Redis Cluster of n masters (n >= 3) and waits
// until it serves every slot.
func StartCluster(t testing.TB, n int) []*Server {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		unavailable(t, "no redis-cli to create a cluster: %v", err)
	}
	var nodes []*Server
	args := []string{"--cluster", "create"}
	for range n {
		s := newServer(t)
		s.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf")}
		s.Restart()
		t.Cleanup(s.Kill)
		nodes = append(nodes, s)
		args = append(args, s.Addr())
	}
	out, err := exec.Command(cli, append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, s := range nodes {
		c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
		until(t, "the cluster is up on "+s.Addr(), func() bool {
			info, err := c.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
		c.Close()
	}
	return nodes
}

// until waits up to 30 s for cond.
func until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is the server's redis:// (or rediss://) URL.
func (s *Server) URL() string {
	if s.tls {
		return "rediss://127.0.0.1:" + strconv.Itoa(s.port)
	}
	return "redis://127.0.0.1:" + strconv.Itoa(s.port)
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// Dir is the server's folder, for configuration files of related servers.
func (s *Server) Dir() string { return s.dir }

// Kill stops the server with SIGKILL, as a crash would, and waits for it
// to exit.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server (again) on its port and waits until it answers.
func (s *Server) Restart(args ...string) {
	s.t.Helper()
	s.Kill()
	var all []string
	if s.conf != "" {
		all = append(all, s.conf)
	}
	port := s.port
	if s.tls {
		port = 0 // no plain-text port
	}
	all = append(all, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log"))
	all = append(append(all, s.args...), args...)
	s.cmd = exec.Command(s.bin, all...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	var tc *tls.Config
	if s.tls {
		tc = &tls.Config{InsecureSkipVerify: true} // the test's own self-signed server
	}
	wait(s.t, s.Addr(), tc)
}

// Wait waits up to 20 s for the Redis at addr to answer PING.
func Wait(t testing.TB, addr string) {
	t.Helper()
	wait(t, addr, nil)
}

func wait(t testing.TB, addr string, tc *tls.Config) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, TLSConfig: tc})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis at %s did not answer: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
