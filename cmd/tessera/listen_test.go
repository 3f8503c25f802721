package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// start runs `tessera serve` with args and env until it says it is ready,
// and returns the banner; the process ends with the test.
func start(t *testing.T, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve"}, args...)...)
	cmd.Env = append(append(os.Environ(), cheap...), env...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	var banner strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		banner.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "  ready") {
			go io.Copy(io.Discard, stdout)
			return cmd, banner.String()
		}
	}
	t.Fatalf("serve did not start:\n%s", banner.String())
	return nil, ""
}

func bannerAddr(t *testing.T, banner, what string) string {
	t.Helper()
	m := regexp.MustCompile(what + `\s+https?://([^\s/]+)`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("no %s address in the banner:\n%s", what, banner)
	}
	return m[1]
}

// writePair writes a fresh self-signed certificate for 127.0.0.1 with
// serial n, and its key, over certFile and keyFile (in place, a renewal).
func writePair(t *testing.T, certFile, keyFile string, n int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	// The key first: a handshake between the two writes sees a mismatched
	// pair and keeps the previous one.
	mtime := time.Now().Add(time.Duration(n) * time.Minute) // another modification time whatever the clock's resolution
	for path, b := range map[string][]byte{
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(path, mtime, mtime)
	}
}

// serial is the serial number of the certificate addr presents.
func serial(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the test reads the serial; trust is not the point
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestServeTLSReload: both listeners serve TLS; replaced certificate
// files are served at the next handshake, without a restart; SIGHUP reads
// them again and does not stop the server.
func TestServeTLSReload(t *testing.T) {
	dir := t.TempDir()
	pc, pk, ac, ak := filepath.Join(dir, "pub.crt"), filepath.Join(dir, "pub.key"), filepath.Join(dir, "adm.crt"), filepath.Join(dir, "adm.key")
	writePair(t, pc, pk, 1)
	writePair(t, ac, ak, 2)
	cmd, banner := start(t, []string{"TESSERA_TLS_CERT=" + pc, "TESSERA_TLS_KEY=" + pk, "TESSERA_ADMIN_TLS_CERT=" + ac, "TESSERA_ADMIN_TLS_KEY=" + ak},
		"--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	if !strings.Contains(banner, "public API  https://") || !strings.Contains(banner, "admin API   https://") {
		t.Fatalf("banner:\n%s", banner)
	}
	pub, adm := bannerAddr(t, banner, "public API"), bannerAddr(t, banner, "admin API")
	if s1, s2 := serial(t, pub), serial(t, adm); s1 != 1 || s2 != 2 {
		t.Fatalf("serials %d, %d; want 1, 2", s1, s2)
	}
	writePair(t, pc, pk, 3)
	writePair(t, ac, ak, 4)
	if s1, s2 := serial(t, pub), serial(t, adm); s1 != 3 || s2 != 4 {
		t.Fatalf("after renewal: serials %d, %d; want 3, 4", s1, s2)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := c.Get("https://" + adm + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("after SIGHUP: %v %v", res, err)
	}
	res.Body.Close()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve ended with %v (SIGHUP must not stop it)", err)
	}
}

// TestSIGHUPWithoutTLS: SIGHUP, whose default action ends a process, is
// caught even when there is nothing to reload.
func TestSIGHUPWithoutTLS(t *testing.T) {
	cmd, _ := start(t, nil, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	cmd.Process.Signal(syscall.SIGHUP)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve ended with %v after SIGHUP, SIGTERM; want a clean exit", err)
	}
}

// TestAdminBeyondLoopbackWarns and the metrics listener: /metrics moves
// off the admin listener when metrics_listen names an address.
func TestAdminBeyondLoopbackWarns(t *testing.T) {
	_, banner := start(t, []string{"TESSERA_METRICS_LISTEN=127.0.0.1:0"}, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0")
	if !strings.Contains(banner, "WARNING: the admin API listens beyond loopback") {
		t.Fatalf("no warning for an admin API on 0.0.0.0:\n%s", banner)
	}
	met, adm := bannerAddr(t, banner, "metrics"), bannerAddr(t, banner, "admin API")
	res, _ := get(t, "http://"+met+"/metrics")
	if res.StatusCode != 200 {
		t.Fatalf("metrics listener: %d", res.StatusCode)
	}
	adm = strings.Replace(adm, "0.0.0.0", "127.0.0.1", 1)
	if res, _ := get(t, "http://"+adm+"/metrics"); res.StatusCode == 200 {
		t.Fatal("the admin listener still serves /metrics")
	}
	_, banner = start(t, nil, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	if strings.Contains(banner, "WARNING: the admin API") {
		t.Fatalf("a warning for an admin API on loopback:\n%s", banner)
	}
}
