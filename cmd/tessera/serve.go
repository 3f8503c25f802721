package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tessera-auth/tessera/clientip"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/server"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

func cmdServe(args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("serve", stderr, &cf)
	listen := fs.String("listen", "", "public API address (default 127.0.0.1:8080)")
	adminListen := fs.String("admin-listen", "", "admin API address (default 127.0.0.1:8081)")
	insecure := fs.Bool("insecure-dev-cookies", false, "drop Secure from cookies for plain-HTTP local development (never in production)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := loadConfig(cf)
	if err != nil {
		return err
	}
	if *listen != "" {
		c.Listen = *listen
	}
	if *adminListen != "" {
		c.AdminListen = *adminListen
	}
	if *insecure {
		c.InsecureDevCookies = true
	}
	if err := c.Validate(); err != nil {
		return err
	}
	log := newLogger(c, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	st, dbPath, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, tokSource, tokCreated, err := adminToken(c)
	if err != nil {
		return err
	}
	var sm *session.Manager
	metrics := server.NewMetrics(
		func(ctx context.Context) (int, error) { return st.CountLiveSessions(ctx, time.Now()) },
		func() int { return sm.CacheLen() },
	)
	events := newEvents(log, metrics)
	kr, err := openKeyset(ctx, c, st, log, events)
	if err != nil {
		return err
	}
	ks := kr.keys
	an, err := newAuthenticator(c, st, log, events)
	if err != nil {
		return err
	}
	ips, err := clientip.New(c.TrustedProxies, c.ClientIPHeader)
	if err != nil {
		return err
	}
	scfg := sessionConfig(c)
	scfg.Logger = log
	scfg.Events = events
	sm = session.New(st, scfg)
	// Load the revocation feed's denials before the first request: serving
	// without them would accept tokens revoked before this start.
	if err := sm.Start(ctx); err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	srv := server.New(server.Config{
		PublicOrigin: c.PublicOrigin, AllowedOrigins: c.AllowedOrigins,
		InsecureDevCookies: c.InsecureDevCookies, SameSiteStrict: c.Policy.Cookie.SameSite == "strict",
		LogRequests: c.LogRequests, AdminToken: tok, Events: events,
	}, st, sm, an, ips, metrics, log, nil).WithKeys(ks)
	oa, verifier, err := newOAuth(c, st, kr, sm, events, log)
	if err != nil {
		return err
	}
	srv.WithOAuth(oa, verifier, server.OAuthConfig{
		Issuer: c.Issuer(), AccessTTL: c.Policy.Tokens.AccessTTL.D(),
		SessionIdle: c.Policy.Tokens.RefreshTTL.D(), SessionAbsolute: c.Policy.Tokens.SessionAbsolute.D(),
	}, st)

	pubLn, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("public listener: %w", err)
	}
	admLn, err := net.Listen("tcp", c.AdminListen)
	if err != nil {
		pubLn.Close()
		return fmt.Errorf("admin listener: %w", err)
	}
	pub := newHTTPServer(srv.Public(), log)
	adm := newHTTPServer(srv.Admin(), log)
	tlsOn := c.TLSCert != ""

	users, _ := st.ListUsers(ctx)
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "tessera %s\n", version)
	fmt.Fprintf(stdout, "  public API  %s://%s\n", scheme, pubLn.Addr())
	fmt.Fprintf(stdout, "  admin API   http://%s  (admin token: %s)\n", admLn.Addr(), tokSource)
	fmt.Fprintf(stdout, "  data        %s (SQLite, WAL)\n", dbPath)
	fmt.Fprintf(stdout, "  policy      idle %v, absolute %v, max %d sessions per user  (tessera policy show)\n",
		c.Policy.Session.IdleTimeout, c.Policy.Session.AbsoluteTimeout, c.Policy.Session.MaxPerUser)
	if tokCreated {
		fmt.Fprintf(stdout, "  first start: generated the admin token into %s (mode 0600)\n", tokSource)
	}
	if kr.masterCreated {
		fmt.Fprintf(stdout, "  first start: generated the master key into %s (mode 0600); back it up apart from the database\n", kr.masterSource)
	}
	if len(users) == 0 {
		fmt.Fprintf(stdout, "  no users yet: add one with  tessera user add alice --data %s\n", c.Data)
	}
	if c.InsecureDevCookies {
		fmt.Fprintln(stdout, "  WARNING: --insecure-dev-cookies: session cookies lack Secure and __Host-. Local development only.")
		log.Warn("insecure dev cookies enabled: never use this in production")
	} else if !tlsOn {
		fmt.Fprintln(stdout, "  note: cookies are Secure, so browsers send them only over HTTPS: put TLS in front, or use --insecure-dev-cookies on localhost.")
	}
	if !tlsOn && !isLoopback(pubLn.Addr()) {
		log.Warn("public API listens beyond loopback without TLS: terminate TLS in front of it", "addr", pubLn.Addr().String())
	}

	fmt.Fprintln(stdout, "  ready; Ctrl-C stops the server")

	runCtx, cancelRun := context.WithCancel(context.Background())
	done := make(chan error, 2)
	runDone := make(chan error, 1)
	go func() { runDone <- sm.Run(runCtx) }()
	go gcLoop(runCtx, st, c, log)
	go ks.Run(runCtx)
	go func() {
		var err error
		if tlsOn {
			err = pub.ServeTLS(pubLn, c.TLSCert, c.TLSKey)
		} else {
			err = pub.Serve(pubLn)
		}
		done <- fmt.Errorf("public listener: %w", err)
	}()
	go func() { done <- fmt.Errorf("admin listener: %w", adm.Serve(admLn)) }()
	log.Info("tessera started", "public", pubLn.Addr().String(), "admin", admLn.Addr().String(), "data", dbPath)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-done:
		log.Error("server stopped", "err", runErr)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pub.Shutdown(shutCtx)
	adm.Shutdown(shutCtx)
	cancelRun()
	// The session manager flushes every unwritten last-seen time on its way
	// out; wait for it before the store closes.
	select {
	case err := <-runDone:
		if err != nil {
			log.Error("final last-seen flush failed", "err", err)
		}
	case <-time.After(10 * time.Second):
		log.Error("final last-seen flush timed out")
	}
	if errors.Is(runErr, http.ErrServerClosed) {
		runErr = nil
	}
	return runErr
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// gcLoop deletes sessions and feed entries that can no longer matter.
func gcLoop(ctx context.Context, st store.Store, c config.Config, log *slog.Logger) {
	keep := max(24*time.Hour, c.Policy.Session.AbsoluteTimeout.D())
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := st.DeleteExpired(ctx, time.Now().Add(-keep))
			if err != nil {
				log.Warn("expired-session cleanup failed", "err", err)
			} else if n > 0 {
				log.Info("expired sessions deleted", "count", n)
			}
		}
	}
}
