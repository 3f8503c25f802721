package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
)

func TestTokenKeyIsSHA256(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 600, 1024, 1500, 8192} {
		s := strings.Repeat("x", n)
		if n > 0 {
			s = s[:n-1] + "y"
		}
		if tokenKey(s) != sha256.Sum256([]byte(s)) {
			t.Fatalf("tokenKey of %d bytes is not its SHA-256", n)
		}
	}
}

func TestTokenKeyConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				s := strings.Repeat(string(rune('a'+g)), 300+i)
				if tokenKey(s) != sha256.Sum256([]byte(s)) {
					t.Error("tokenKey differs from SHA-256 under concurrent use")
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestVerifiedTokens: the cache answers for exactly the token it verified,
// only until that token's exp.
func TestVerifiedTokens(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	var lookups atomic.Int64 // how many tokens the verifier really checked
	v := &accesstoken.Verifier{
		Issuer: "https://iss", Audience: "https://iss", Algorithms: []jose.SignatureAlgorithm{jose.ES256},
		Keys: func(kid string) (*jose.JSONWebKey, error) {
			lookups.Add(1)
			if kid != "k1" {
				return nil, accesstoken.ErrUnknownKey
			}
			return &jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256"}, nil
		},
		Now: func() time.Time { return now },
	}
	mint := func(jti string, ttl time.Duration) string {
		tok, err := accesstoken.Mint(accesstoken.Claims{Issuer: "https://iss", Subject: "u", Audience: accesstoken.Audience{"https://iss"},
			Expiry: now.Add(ttl).Unix(), IssuedAt: now.Unix(), ID: jti, ClientID: "c"}, "k1", jose.ES256, key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	c := newVerifiedTokens(2)
	a, b := mint("a", time.Minute), mint("b", time.Hour)
	for range 3 {
		if cl, err := c.verify(v, a, now); err != nil || cl.ID != "a" {
			t.Fatalf("a: %v %v", cl, err)
		}
	}
	if lookups.Load() != 1 {
		t.Fatalf("a verified %d times, want once then cached", lookups.Load())
	}
	if cl, err := c.verify(v, b, now); err != nil || cl.ID != "b" {
		t.Fatalf("b: %v %v", cl, err)
	}
	// Any other string, however close to a cached token, is verified.
	tampered := []string{a[:len(a)-2] + "AA", a + "A", a[:len(a)-1], strings.Replace(a, ".", "X.", 1)}
	for _, tok := range tampered {
		if cl, err := c.verify(v, tok, now); err == nil {
			t.Fatalf("tampered token accepted: %v", cl)
		}
	}
	// At exp the cached entry no longer answers, even though the
	// verifier's leeway would still accept the token.
	now = now.Add(time.Minute)
	before := lookups.Load()
	if _, err := c.verify(v, a, now); err != nil {
		t.Fatalf("within the verifier's leeway: %v", err)
	}
	if lookups.Load() != before+1 {
		t.Fatal("a token at its exp was answered from the cache")
	}
	now = now.Add(31 * time.Second)
	if _, err := c.verify(v, a, now); err == nil {
		t.Fatal("expired token accepted")
	}
	// Bounded.
	c.verify(v, mint("c", time.Hour), now)
	c.verify(v, mint("d", time.Hour), now)
	if len(c.m) > 2 {
		t.Fatalf("%d entries, max 2", len(c.m))
	}
}

// TestIntrospectCachedJWT: a JWT answered from the verified-token cache is
// still inactive the moment it expires, is denied, or its session ends.
func TestIntrospectCachedJWT(t *testing.T) {
	e := newEnv(t)
	e.addUser("kim", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	introspect := func(tok string) map[string]any {
		t.Helper()
		r := e.form("/oauth2/introspect", url.Values{"token": {tok}}, basic(rsID, rsSecret)...)
		if r.StatusCode != 200 {
			t.Fatalf("introspect: %d %s", r.StatusCode, r.body)
		}
		return r.json(t)
	}
	active := func(tok string) bool {
		t.Helper()
		for range 2 { // the second answer comes from the cache
			if m := introspect(tok); m["active"] != true {
				return false
			}
		}
		return true
	}
	inactive := func(what, tok string) {
		t.Helper()
		if m := introspect(tok); len(m) != 1 || m["active"] != false {
			t.Fatalf("%s: %v, want exactly {active:false}", what, m)
		}
	}

	at, _ := e.loginTokens("kim", nil)
	if !active(at) {
		t.Fatal("fresh access token inactive")
	}
	e.clock.Add(15 * time.Minute) // exactly exp
	inactive("expired (cached) access token", at)

	at, _ = e.loginTokens("kim", nil)
	if !active(at) {
		t.Fatal("fresh access token inactive")
	}
	if r := e.form("/oauth2/revoke", url.Values{"token": {at}}); r.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	inactive("denied (cached) access token", at)

	at, _ = e.loginTokens("kim", nil)
	if !active(at) {
		t.Fatal("fresh access token inactive")
	}
	e.do(e.public, "POST", "/v1/logout", nil, bearer(at)...)
	inactive("access token of an ended session (cached)", at)
}
