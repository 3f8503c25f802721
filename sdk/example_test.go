package sdk_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/tessera-auth/tessera/sdk"
)

// A service accepting Tessera bearer tokens: JWTs checked locally against
// the revocation feed, opaque tokens introspected.
func Example() {
	issuer := "https://auth.example.com"
	id, secret := os.Getenv("TESSERA_CLIENT_ID"), os.Getenv("TESSERA_CLIENT_SECRET")
	rev, err := sdk.NewRevocations(sdk.RevocationsConfig{URL: issuer + "/v1/revocations", ClientID: id, ClientSecret: secret})
	if err != nil {
		log.Fatal(err)
	}
	go rev.Run(context.Background())
	v, err := sdk.NewVerifier(sdk.VerifierConfig{Issuer: issuer, Audience: "https://notes.example.com", Revocations: rev})
	if err != nil {
		log.Fatal(err)
	}
	in, err := sdk.NewIntrospector(sdk.IntrospectorConfig{Issuer: issuer, ClientID: id, ClientSecret: secret})
	if err != nil {
		log.Fatal(err)
	}
	auth := sdk.Middleware(sdk.MiddlewareOptions{Verifier: v, Introspector: in, Realm: "notes"})

	mux := http.NewServeMux()
	mux.Handle("GET /notes", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "notes of %s\n", sdk.PrincipalFrom(r.Context()).Subject)
	})))
	mux.Handle("POST /notes", auth(sdk.RequireScope("notes:write")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))))
	// http.ListenAndServe("127.0.0.1:9090", mux)
}

// A cookie app: the session cookie is accepted, and state changes need a
// same-origin request carrying Tessera's CSRF token for the session (from
// the "csrf_token" of POST /v1/login or GET /v1/session).
func ExampleCSRF() {
	var in *sdk.Introspector // as in Example
	auth := sdk.Middleware(sdk.MiddlewareOptions{Introspector: in, Cookie: true})
	csrf := sdk.CSRF(sdk.CSRFOptions{AllowedOrigins: []string{"https://app.example.com"}})
	save := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	http.Handle("POST /settings", auth(csrf(save)))
}
