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
	"strings"
	"syscall"
	"time"

	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/store"
)

func cmdServe(cf commonFlags, sf serveFlags, stdout, stderr io.Writer) error {
	c, err := loadConfig(cf)
	if err != nil {
		return err
	}
	if sf.listen != "" {
		c.Listen = sf.listen
	}
	if sf.adminListen != "" {
		c.AdminListen = sf.adminListen
	}
	if sf.insecure {
		c.InsecureDevCookies = true
	}
	if err := c.Validate(); err != nil {
		return err
	}
	log := newLogger(c, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Bind first: a start that cannot listen (the port is taken) must
	// fail before it creates the data folder, the database or the keys,
	// leaving nothing half-made behind.
	pubLn, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("public listener: %w", err)
	}
	defer pubLn.Close()
	admLn, err := net.Listen("tcp", c.AdminListen)
	if err != nil {
		return fmt.Errorf("admin listener: %w", err)
	}
	defer admLn.Close()
	var metLn net.Listener
	if m := c.MetricsListen; m != "admin" && m != "off" && m != "" {
		if metLn, err = net.Listen("tcp", m); err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		defer metLn.Close()
	}

	// serve applies pending migrations under the store's migration lock,
	// so nodes starting together migrate once; it refuses a newer schema.
	a, err := app.New(ctx, c, app.Options{Logger: log, Access: app.Migrate})
	if err != nil {
		return err
	}
	defer a.Close()
	dbPath := a.StoreInfo.Location

	pub := newPublicServer(a, log)
	adm := newHTTPServer(a.Admin(), log)
	certs, err := listenerTLS(c, pub, adm, log)
	if err != nil {
		pubLn.Close()
		admLn.Close()
		if metLn != nil {
			metLn.Close()
		}
		return err
	}
	tlsOn := c.TLSCert != ""

	users, _ := a.Store.ListUsers(ctx)
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "tessera %s\n", currentVersion().Version)
	fmt.Fprintf(stdout, "  public API  %s://%s\n", scheme, pubLn.Addr())
	admScheme := "http"
	if c.AdminTLSCert != "" {
		admScheme = "https"
	}
	fmt.Fprintf(stdout, "  admin API   %s://%s  (admin token: %s)\n", admScheme, admLn.Addr(), a.AdminTokenSource)
	switch {
	case metLn != nil:
		fmt.Fprintf(stdout, "  metrics     http://%s/metrics\n", metLn.Addr())
	case c.MetricsListen == "off":
		fmt.Fprintln(stdout, "  metrics     off")
	default:
		fmt.Fprintf(stdout, "  metrics     %s://%s/metrics (admin listener)\n", admScheme, admLn.Addr())
	}
	backend := "SQLite, WAL"
	if c.Store != "" && !strings.HasPrefix(strings.ToLower(c.Store), "sqlite:") {
		backend = "PostgreSQL"
	}
	fmt.Fprintf(stdout, "  data        %s (%s)\n", dbPath, backend)
	if a.Redis != nil {
		state := "shared throttles and revocation fan-out"
		if !a.Redis.Up() {
			state = "NOT ANSWERING: this node throttles on its own until it does"
		}
		fmt.Fprintf(stdout, "  redis       %s (%s)\n", store.Redact(c.Redis.URL), state)
	}
	if ap := a.StoreInfo.Applied; len(ap) > 0 {
		fmt.Fprintf(stdout, "  schema      applied migrations %d to %d; now at version %d\n", ap[0], ap[len(ap)-1], a.StoreInfo.Schema.Current)
	}
	fmt.Fprintf(stdout, "  issuer      %s\n", a.Config.Issuer())
	if a.Listener != nil {
		fmt.Fprintf(stdout, "  revocations LISTEN/NOTIFY across nodes, feed read every %v\n", c.Policy.Session.RevocationPoll)
	}
	fmt.Fprintf(stdout, "  policy      idle %v, absolute %v, max %d sessions per user  (tessera policy show)\n",
		c.Policy.Session.IdleTimeout, c.Policy.Session.AbsoluteTimeout, c.Policy.Session.MaxPerUser)
	if a.AdminTokenCreated {
		fmt.Fprintf(stdout, "  first start: generated the admin token into %s (mode 0600)\n", a.AdminTokenSource)
	}
	if a.Keyring.MasterCreated {
		fmt.Fprintf(stdout, "  first start: generated the master key into %s (mode 0600); back it up apart from the database\n", a.Keyring.MasterSource)
	}
	if !c.InsecureDevCookies && app.MasterKeyBeside(c, a.Keyring.MasterSource) {
		fmt.Fprintf(stdout, "  WARNING: %s\n", app.MasterKeyBesideWarning)
	}
	if w := a.StoreInfo.CheckWarning; w != "" {
		fmt.Fprintf(stdout, "  WARNING: %s; started without it\n", w)
	}
	if len(users) == 0 {
		where := "--data " + c.Data
		if c.Store != "" {
			where = "--store URL" // the URL may hold a password: not printed
		}
		fmt.Fprintf(stdout, "  no users yet: add one with  tessera user add alice %s\n", where)
	}
	if c.InsecureDevCookies {
		fmt.Fprintln(stdout, "  WARNING: --insecure-dev-cookies: session cookies lack Secure and __Host-. Local development only.")
		log.Warn("insecure dev cookies enabled: never use this in production")
	} else if !tlsOn {
		fmt.Fprintln(stdout, "  note: cookies are Secure, so browsers send them only over HTTPS: put TLS in front, or use --insecure-dev-cookies on localhost.")
	}
	if !isLoopback(admLn.Addr()) {
		how := "without TLS: admin tokens cross the network in the clear"
		if c.AdminTLSCert != "" {
			how = "with TLS"
		}
		fmt.Fprintf(stdout, "  WARNING: the admin API listens beyond loopback (%s), %s; keep it on loopback or a private network\n", admLn.Addr(), how)
		log.Warn("admin API listens beyond loopback: keep it on loopback or a private network", "addr", admLn.Addr().String(), "tls", c.AdminTLSCert != "")
	}
	if !tlsOn && !isLoopback(pubLn.Addr()) {
		log.Warn("public API listens beyond loopback without TLS: terminate TLS in front of it", "addr", pubLn.Addr().String())
	}

	runCtx, cancelRun := context.WithCancel(context.Background())
	reloadOnHUP(runCtx, certs, log)
	fmt.Fprintln(stdout, "  ready; Ctrl-C stops the server")

	done := make(chan error, 3)
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(runCtx) }()
	go func() { done <- fmt.Errorf("public listener: %w", serveHTTP(pub, pubLn)) }()
	go func() { done <- fmt.Errorf("admin listener: %w", serveHTTP(adm, admLn)) }()
	var met *http.Server
	if metLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics.Handler())
		met = newHTTPServer(mux, log)
		go func() { done <- fmt.Errorf("metrics listener: %w", met.Serve(metLn)) }()
	}
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
	if met != nil {
		met.Shutdown(shutCtx)
	}
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

// newPublicServer serves a's public API. Shutdown waits for the requests
// in flight: revocation-feed long polls answer at once (Server.Drain)
// rather than hold it for their wait, up to 30 s, and then be cut off.
func newPublicServer(a *app.App, log *slog.Logger) *http.Server {
	srv := newHTTPServer(a.Public(), log)
	srv.RegisterOnShutdown(a.Server.Drain)
	return srv
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
