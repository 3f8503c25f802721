package interop

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/bench"
	"github.com/tessera-auth/tessera/oauth"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func fixture(t *testing.T) (*bench.Fixture, *httptest.Server) {
	t.Helper()
	f, err := bench.NewFixture(bench.Options{Users: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	ts := httptest.NewServer(f.Server.Public())
	t.Cleanup(ts.Close)
	return f, ts
}

// TestXOAuth2ClientCredentials: golang.org/x/oauth2/clientcredentials gets
// tokens from our token endpoint, with both client authentication styles.
func TestXOAuth2ClientCredentials(t *testing.T) {
	f, ts := fixture(t)
	ctx := context.Background()
	c, secret, err := f.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "worker", Scopes: []string{"jobs:read", "jobs:run"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: ts.URL + "/oauth2/token", Scopes: []string{"jobs:read"}, AuthStyle: style}
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("style %v: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.Expiry.Before(time.Now().Add(14*time.Minute)) || tok.Extra("scope") != "jobs:read" {
			t.Fatalf("style %v: token %+v scope %v", style, tok, tok.Extra("scope"))
		}
		claims, err := f.Verifier.Verify(tok.AccessToken)
		if err != nil || claims.Subject != c.ID || claims.Scope != "jobs:read" {
			t.Fatalf("style %v: claims %+v, %v", style, claims, err)
		}
	}
	bad := clientcredentials.Config{ClientID: c.ID, ClientSecret: "wrong", TokenURL: ts.URL + "/oauth2/token"}
	_, err = bad.Token(ctx)
	var re *oauth2.RetrieveError
	if err == nil || !asRetrieve(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("wrong secret: %v", err)
	}
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = r
	}
	return ok
}

// TestXOAuth2Refresh: x/oauth2's TokenSource refreshes an expired access
// token with our rotating refresh token, and stores the rotated one.
func TestXOAuth2Refresh(t *testing.T) {
	f, ts := fixture(t)
	ctx := context.Background()
	c, _, err := f.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "mobile", Grants: []string{oauth.GrantRefreshToken}, Public: true, Scopes: []string{"profile"}, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ts.Client().Post(ts.URL+"/v1/login", "application/json", strings.NewReader(
		`{"username":"`+f.Users[0]+`","password":"`+bench.Password+`","delivery":"token","client_id":"`+c.ID+`"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", res.StatusCode, err)
	}
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	decodeJSON(t, res, &body)
	cfg := oauth2.Config{ClientID: c.ID, Endpoint: oauth2.Endpoint{TokenURL: ts.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	expired := &oauth2.Token{AccessToken: body.AccessToken, RefreshToken: body.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
	src := cfg.TokenSource(ctx, expired)
	fresh, err := src.Token()
	if err != nil {
		t.Fatalf("x/oauth2 refresh: %v", err)
	}
	if fresh.AccessToken == body.AccessToken || fresh.RefreshToken == body.RefreshToken || fresh.RefreshToken == "" {
		t.Fatal("refresh did not rotate the tokens")
	}
	if _, err := f.Verifier.Verify(fresh.AccessToken); err != nil {
		t.Fatalf("refreshed access token: %v", err)
	}
	// A second refresh through x/oauth2 uses the rotated token it kept.
	again := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken, Expiry: time.Now().Add(-time.Minute)})
	if _, err := again.Token(); err != nil {
		t.Fatalf("second refresh with the rotated token: %v", err)
	}
}

// TestXOAuth2FirstPartyRefresh: the tokens /v1/login delivers without a
// client are the first party's; x/oauth2 always sends a client_id, and
// "tessera" (the client_id those tokens carry) is accepted for the
// refresh, in the body and in HTTP Basic (issue 10: it was an unknown
// client).
func TestXOAuth2FirstPartyRefresh(t *testing.T) {
	f, ts := fixture(t)
	ctx := context.Background()
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleInHeader} {
		res, err := ts.Client().Post(ts.URL+"/v1/login", "application/json", strings.NewReader(
			`{"username":"`+f.Users[0]+`","password":"`+bench.Password+`","delivery":"token"}`))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("login: %v %v", res.StatusCode, err)
		}
		var body struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		decodeJSON(t, res, &body)
		claims, err := f.Verifier.Verify(body.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		cfg := oauth2.Config{ClientID: claims.ClientID, Endpoint: oauth2.Endpoint{TokenURL: ts.URL + "/oauth2/token", AuthStyle: style}}
		fresh, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: body.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
		if err != nil {
			t.Fatalf("style %v: x/oauth2 refresh as %q: %v", style, claims.ClientID, err)
		}
		if c, err := f.Verifier.Verify(fresh.AccessToken); err != nil || c.ClientID != "tessera" || fresh.RefreshToken == body.RefreshToken {
			t.Fatalf("style %v: refreshed %+v, %v", style, c, err)
		}
	}
}
