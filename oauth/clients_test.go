package oauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/keys/keystest"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// TestRotateSecretOverlap: after a rotation the new secret works at once,
// the old one until the overlap ends (injected clock), then never.
func TestRotateSecretOverlap(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	clock := clocktest.New(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
	s := New(st, keystest.New(t, st, keys.Config{RetiredTTL: time.Hour}), Config{Issuer: "https://i", Audience: "https://i", Access: time.Minute, Refresh: time.Hour, Pepper: []byte("p"), Now: clock.Now})
	c, old, err := s.RegisterClient(ctx, ClientSpec{Name: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	_, cur, err := s.RotateSecret(ctx, c.ID, time.Hour)
	if err != nil || cur == old {
		t.Fatalf("rotate: %v", err)
	}
	for _, sec := range []string{old, cur} {
		if _, err := s.AuthenticateClient(ctx, c.ID, sec); err != nil {
			t.Fatalf("during the overlap: %v", err)
		}
	}
	clock.Add(time.Hour)
	if _, err := s.AuthenticateClient(ctx, c.ID, old); code(err) != "invalid_client" {
		t.Fatalf("old secret after the overlap: %v", err)
	}
	if _, err := s.AuthenticateClient(ctx, c.ID, cur); err != nil {
		t.Fatalf("new secret after the overlap: %v", err)
	}
	// Without an overlap the old secret stops at once.
	_, next, err := s.RotateSecret(ctx, c.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateClient(ctx, c.ID, cur); code(err) != "invalid_client" {
		t.Fatalf("secret rotated without overlap: %v", err)
	}
	if _, err := s.AuthenticateClient(ctx, c.ID, next); err != nil {
		t.Fatal(err)
	}
	pub, _, _ := s.RegisterClient(ctx, ClientSpec{Name: "spa", Public: true, Grants: []string{GrantRefreshToken}})
	if _, _, err := s.RotateSecret(ctx, pub.ID, 0); code(err) != "invalid_request" {
		t.Fatalf("rotate a public client: %v", err)
	}
	if _, _, err := s.RotateSecret(ctx, c.ID, 31*24*time.Hour); code(err) != "invalid_request" {
		t.Fatalf("overlap too long: %v", err)
	}
	if _, _, err := s.RotateSecret(ctx, "nope", 0); !errors.Is(err, ErrClientNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
}

// TestClientMetadata: RFC 7591 auth methods and redirect URIs.
func TestClientMetadata(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, "p")
	for _, tc := range []struct {
		spec ClientSpec
		code string
	}{
		{ClientSpec{Name: "a", RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1:8080/cb", "http://[::1]/cb", "com.example.app:/cb"}}, ""},
		{ClientSpec{Name: "b", RedirectURIs: []string{"http://app.example/cb"}}, "invalid_redirect_uri"},
		{ClientSpec{Name: "c", RedirectURIs: []string{"https://app.example/cb#x"}}, "invalid_redirect_uri"},
		{ClientSpec{Name: "d", RedirectURIs: []string{"https://*.example/cb"}}, "invalid_redirect_uri"},
		{ClientSpec{Name: "e", RedirectURIs: []string{"/relative"}}, "invalid_redirect_uri"},
		{ClientSpec{Name: "f", RedirectURIs: []string{"myapp:/cb"}}, "invalid_redirect_uri"},
		{ClientSpec{Name: "g", AuthMethod: AuthNone}, "invalid_request"},
		{ClientSpec{Name: "h", Public: true, Grants: []string{GrantRefreshToken}, AuthMethod: AuthSecretPost}, "invalid_request"},
		{ClientSpec{Name: "i", AuthMethod: "private_key_jwt"}, "invalid_request"},
	} {
		c, _, err := s.RegisterClient(ctx, tc.spec)
		if code(err) != tc.code || tc.code == "" && err != nil {
			t.Errorf("%s: %v, want %q", tc.spec.Name, err, tc.code)
		}
		if err == nil && (c.AuthMethod != AuthSecretBasic || len(c.RedirectURIs) != 4) {
			t.Errorf("%s: stored %+v", tc.spec.Name, c)
		}
	}
	pub, _, err := s.RegisterClient(ctx, ClientSpec{Name: "spa", Public: true, Grants: []string{GrantRefreshToken}})
	if err != nil || pub.AuthMethod != AuthNone {
		t.Fatalf("public default: %+v %v", pub, err)
	}
	name, uris := "spa-2", []string{"https://spa.example/cb"}
	got, err := s.UpdateClient(ctx, pub.ID, ClientPatch{Name: &name, RedirectURIs: &uris})
	if err != nil || got.Name != "spa-2" || len(got.RedirectURIs) != 1 || got.SecretHash != nil {
		t.Fatalf("update: %+v %v", got, err)
	}
	cc := []string{GrantClientCredentials}
	if _, err := s.UpdateClient(ctx, pub.ID, ClientPatch{Grants: &cc}); code(err) != "invalid_request" {
		t.Fatalf("public client given client_credentials: %v", err)
	}
}

// The first-party mark and the revocation-feed permission (issue 10):
// both off unless asked for, kept by an update that does not name them,
// changed by one that does; the feed is for confidential clients only;
// the built-in first party is first party.
func TestClientFirstPartyAndFeed(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, "p")
	if !s.FirstParty().FirstParty {
		t.Fatal("the built-in first party is not first party")
	}
	c, _, err := s.RegisterClient(ctx, ClientSpec{Name: "rs"})
	if err != nil || c.FirstParty || c.RevocationFeed {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	yes, no := true, false
	if c, err = s.UpdateClient(ctx, c.ID, ClientPatch{RevocationFeed: &yes, FirstParty: &yes}); err != nil || !c.RevocationFeed || !c.FirstParty {
		t.Fatalf("grant: %+v %v", c, err)
	}
	name := "rs-2"
	if c, err = s.UpdateClient(ctx, c.ID, ClientPatch{Name: &name}); err != nil || !c.RevocationFeed || !c.FirstParty {
		t.Fatalf("an unrelated update: %+v %v", c, err)
	}
	if c, err = s.UpdateClient(ctx, c.ID, ClientPatch{RevocationFeed: &no}); err != nil || c.RevocationFeed || !c.FirstParty {
		t.Fatalf("withdraw: %+v %v", c, err)
	}
	if _, _, err := s.RegisterClient(ctx, ClientSpec{Name: "spa", Public: true, Grants: []string{GrantRefreshToken}, RevocationFeed: true}); code(err) != "invalid_request" {
		t.Fatalf("public client with the feed: %v", err)
	}
	spa, _, err := s.RegisterClient(ctx, ClientSpec{Name: "spa", Public: true, Grants: []string{GrantRefreshToken}, FirstParty: true})
	if err != nil || !spa.FirstParty {
		t.Fatalf("first-party public client: %+v %v", spa, err)
	}
	if _, err := s.UpdateClient(ctx, spa.ID, ClientPatch{RevocationFeed: &yes}); code(err) != "invalid_request" {
		t.Fatalf("public client given the feed: %v", err)
	}
}
