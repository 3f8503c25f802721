package main

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/certfile"
)

// listenerTLS loads the listeners' certificates, if configured, into
// their servers: read again when the files change (at the next handshake)
// and on SIGHUP (reloadOnHUP), without a restart.
func listenerTLS(c config.Config, pub, adm *http.Server, log *slog.Logger) ([]*certfile.Cert, error) {
	var certs []*certfile.Cert
	for _, l := range []struct {
		cert, key string
		srv       *http.Server
	}{{c.TLSCert, c.TLSKey, pub}, {c.AdminTLSCert, c.AdminTLSKey, adm}} {
		if l.cert == "" {
			continue
		}
		cf, err := certfile.Load(l.cert, l.key, log)
		if err != nil {
			return nil, err
		}
		l.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cf.GetCertificate}
		certs = append(certs, cf)
	}
	return certs, nil
}

// serveHTTP serves srv on ln, with TLS when srv has a TLSConfig.
func serveHTTP(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// reloadOnHUP reads the certificates again at every SIGHUP until ctx
// ends. SIGHUP is caught even without TLS: its default action would stop
// the server.
func reloadOnHUP(ctx context.Context, certs []*certfile.Cert, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				failed := 0
				for _, c := range certs {
					if c.Reload() != nil {
						failed++
					}
				}
				log.Info("SIGHUP: TLS certificates read again", "certificates", len(certs), "failed", failed)
			}
		}
	}()
}
