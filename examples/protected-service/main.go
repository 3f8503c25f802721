// Command protected-service is a tiny API that accepts Tessera credentials
// through the sdk package: JWT access tokens verified locally (with the
// revocation feed followed), opaque tokens and, with -cookies, the browser
// session cookie (introspected, CSRF-protected). See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tessera-auth/tessera/sdk"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "protected-service:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("protected-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9090", "address to serve on")
	issuer := fs.String("issuer", "http://127.0.0.1:8080", "Tessera's issuer (its public URL unless tokens.issuer is set)")
	audience := fs.String("audience", "", "the token audience this API accepts (default: the issuer, Tessera's default audience)")
	clientID := fs.String("client-id", os.Getenv("TESSERA_CLIENT_ID"), "confidential client id for introspection and the revocation feed (env TESSERA_CLIENT_ID)")
	clientSecret := fs.String("client-secret", "", "its secret (prefer env TESSERA_CLIENT_SECRET: flags show up in ps)")
	cookies := fs.Bool("cookies", false, "also accept the browser session cookie (CSRF-protected)")
	cookieName := fs.String("cookie-name", sdk.CookieName, `session cookie name ("tessera_session" if Tessera runs with --insecure-dev-cookies)`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *clientSecret == "" {
		*clientSecret = os.Getenv("TESSERA_CLIENT_SECRET")
	}
	if *audience == "" {
		*audience = *issuer
	}
	if *clientID == "" || *clientSecret == "" {
		// Without them the revocation feed cannot be followed, and a revoked
		// session's JWTs would be honoured until they expire: refuse to start.
		return errors.New("-client-id and a client secret are required (tessera client add NAME)")
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))

	rev, err := sdk.NewRevocations(sdk.RevocationsConfig{URL: *issuer + "/v1/revocations", ClientID: *clientID, ClientSecret: *clientSecret})
	if err != nil {
		return err
	}
	v, err := sdk.NewVerifier(sdk.VerifierConfig{Issuer: *issuer, Audience: *audience, Revocations: rev})
	if err != nil {
		return err
	}
	in, err := sdk.NewIntrospector(sdk.IntrospectorConfig{Issuer: *issuer, ClientID: *clientID, ClientSecret: *clientSecret, Revocations: rev})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Tessera may still be starting: warn, keep going, and fail closed
	// (503) until the keys and the feed arrive.
	if err := v.Refresh(ctx); err != nil {
		log.Warn("signing keys not fetched yet", "err", err)
	}
	if err := rev.Sync(ctx); err != nil {
		log.Warn("revocation feed not read yet", "err", err)
	}
	go rev.Run(ctx)

	auth := sdk.Middleware(sdk.MiddlewareOptions{Verifier: v, Introspector: in, Realm: "notes", Cookie: *cookies, CookieName: *cookieName, Logger: log})
	csrf := sdk.CSRF(sdk.CSRFOptions{CookieName: *cookieName})
	protect := func(h http.Handler) http.Handler { return auth(csrf(h)) }

	mux := http.NewServeMux()
	mux.Handle("GET /api/me", protect(http.HandlerFunc(me)))
	mux.Handle("POST /api/echo", protect(http.HandlerFunc(echo)))
	mux.Handle("GET /api/report", protect(sdk.RequireScope("reports:read")(http.HandlerFunc(report))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !rev.Healthy() {
			http.Error(w, "revocation feed stale", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})

	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Info("protected service listening", "addr", *listen, "issuer", *issuer, "audience", *audience, "cookies", *cookies)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// me shows who the caller is: everything a handler learns from the SDK.
func me(w http.ResponseWriter, r *http.Request) {
	p := sdk.PrincipalFrom(r.Context())
	via := "jwt"
	if p.Introspection != nil {
		via = "introspection"
	}
	writeJSON(w, map[string]any{
		"subject": p.Subject, "session_id": p.SessionID, "client_id": p.ClientID,
		"scopes": p.Scopes, "verified_by": via, "cookie": p.FromCookie,
	})
}

// echo is a state change: with a cookie it needs X-CSRF-Token.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	writeJSON(w, map[string]any{"subject": sdk.PrincipalFrom(r.Context()).Subject, "echo": string(body)})
}

// report needs the reports:read scope (a client_credentials token of a
// client registered with --scope reports:read).
func report(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"report": "all systems nominal", "for": sdk.PrincipalFrom(r.Context()).ClientID})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}
