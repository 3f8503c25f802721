package certfile

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Cert is a certificate and key pair read from files. Safe for concurrent
// use.
type Cert struct {
	certFile, keyFile string
	log               *slog.Logger

	mu   sync.Mutex
	cert *tls.Certificate
	// seen are the files as last read or last refused: a pair refused
	// (a half-written renewal: a new certificate, the old key) is tried
	// again only once either file changes again, so a bad pair costs one
	// read and one log line, not one per handshake.
	seen [2]os.FileInfo
}

// Load reads the pair; an unreadable or mismatched pair is an error.
func Load(certFile, keyFile string, log *slog.Logger) (*Cert, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cert{certFile: certFile, keyFile: keyFile, log: log}
	st, err := c.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %s, %s: %w", certFile, keyFile, err)
	}
	c.cert, c.seen = &cert, st
	return c, nil
}

// GetCertificate is tls.Config.GetCertificate: the current certificate,
// read again first if either file changed (another modification time,
// size or file: a renewal written in place, or renamed over the old one, as
// certbot and Kubernetes secret volumes do). Two stat calls per handshake
// are small beside the handshake's signature.
func (c *Cert) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, err := c.stat(); err == nil && changed(c.seen, st) {
		c.reload(st)
	}
	return c.cert, nil
}

// Reload reads the pair again now, whether or not the files look changed
// (SIGHUP). On error the current certificate stays.
func (c *Cert) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.stat()
	if err != nil {
		c.log.Warn("TLS certificate not reloaded; serving the previous one", "cert", c.certFile, "err", err)
		return err
	}
	return c.reload(st)
}

// reload reads the pair; c.mu is held.
func (c *Cert) reload(st [2]os.FileInfo) error {
	c.seen = st
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		c.log.Warn("TLS certificate not reloaded; serving the previous one", "cert", c.certFile, "key", c.keyFile, "err", err)
		return fmt.Errorf("tls: %s, %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert = &cert
	attrs := []any{"cert", c.certFile}
	if cert.Leaf != nil {
		attrs = append(attrs, "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	c.log.Info("TLS certificate loaded", attrs...)
	return nil
}

func (c *Cert) stat() ([2]os.FileInfo, error) {
	var st [2]os.FileInfo
	for i, f := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(f) // follows symbolic links: a swapped target is a change
		if err != nil {
			return st, fmt.Errorf("tls: %w", err)
		}
		st[i] = fi
	}
	return st, nil
}

func changed(old, cur [2]os.FileInfo) bool {
	for i := range old {
		if old[i] == nil || !os.SameFile(old[i], cur[i]) || !old[i].ModTime().Equal(cur[i].ModTime()) || old[i].Size() != cur[i].Size() {
			return true
		}
	}
	return false
}
