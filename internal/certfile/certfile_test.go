package certfile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pair is a fresh self-signed certificate with serial n, PEM-encoded.
func pair(t *testing.T, n int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// write replaces path's content in place and moves its modification time
// on, as a renewal some time later would.
func write(t *testing.T, path string, b []byte, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// served is the serial number of the certificate a TLS handshake with c
// presents.
func served(t *testing.T, c *Cert) int64 {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, &tls.Config{GetCertificate: c.GetCertificate})
	go srv.Handshake()
	cli := tls.Client(b, &tls.Config{InsecureSkipVerify: true}) // the test reads the serial; trust is not the point
	if err := cli.Handshake(); err != nil {
		t.Fatal(err)
	}
	return cli.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestReloadOnChange(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	at := time.Now().Add(-24 * time.Hour)
	c1, k1 := pair(t, 1)
	write(t, certFile, c1, at)
	write(t, keyFile, k1, at)
	c, err := Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := served(t, c); n != 1 {
		t.Fatalf("serial %d, want 1", n)
	}

	// Renewed in place.
	c2, k2 := pair(t, 2)
	write(t, certFile, c2, at.Add(time.Hour))
	write(t, keyFile, k2, at.Add(time.Hour))
	if n := served(t, c); n != 2 {
		t.Fatalf("after the files were replaced: serial %d, want 2", n)
	}

	// Half written: the new certificate beside the old key is refused and
	// the previous pair served, until the key follows.
	c3, k3 := pair(t, 3)
	write(t, certFile, c3, at.Add(2*time.Hour))
	if n := served(t, c); n != 2 {
		t.Fatalf("with a mismatched pair: serial %d, want the previous 2", n)
	}
	if err := c.Reload(); err == nil {
		t.Fatal("Reload of a mismatched pair succeeded")
	}
	write(t, keyFile, k3, at.Add(2*time.Hour))
	if n := served(t, c); n != 3 {
		t.Fatalf("once the key followed: serial %d, want 3", n)
	}

	// Renamed over the old files (certbot, Kubernetes secret volumes),
	// with the same modification time.
	c4, k4 := pair(t, 4)
	write(t, certFile+".new", c4, at.Add(2*time.Hour))
	write(t, keyFile+".new", k4, at.Add(2*time.Hour))
	os.Rename(keyFile+".new", keyFile)
	os.Rename(certFile+".new", certFile)
	if n := served(t, c); n != 4 {
		t.Fatalf("after a rename over the files: serial %d, want 4", n)
	}
}

// TestReloadForced: Reload (SIGHUP) reads the files even when nothing
// about them looks changed.
func TestReloadForced(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	at := time.Now().Add(-24 * time.Hour)
	c1, k1 := pair(t, 1)
	write(t, certFile, c1, at)
	write(t, keyFile, k1, at)
	c, err := Load(certFile, keyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Pretend the files were seen as they are now, then swap the content
	// behind an unchanged stat: only a forced read notices.
	c2, k2 := pair(t, 2)
	write(t, certFile, c2, at)
	write(t, keyFile, k2, at)
	st, _ := c.stat()
	c.mu.Lock()
	c.seen = st
	c.mu.Unlock()
	if n := served(t, c); n != 1 {
		t.Fatalf("serial %d before Reload, want 1 (nothing looked changed)", n)
	}
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := served(t, c); n != 2 {
		t.Fatalf("serial %d after Reload, want 2", n)
	}
}

func TestLoadRefusesMismatch(t *testing.T) {
	dir := t.TempDir()
	c1, _ := pair(t, 1)
	_, k2 := pair(t, 2)
	os.WriteFile(filepath.Join(dir, "c"), c1, 0o600)
	os.WriteFile(filepath.Join(dir, "k"), k2, 0o600)
	if _, err := Load(filepath.Join(dir, "c"), filepath.Join(dir, "k"), nil); err == nil {
		t.Fatal("a certificate with another key loaded")
	}
}
