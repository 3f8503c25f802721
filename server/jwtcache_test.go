package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
)

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
	c := newVerifiedTokens(2, nil)
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
	// (A JWT's last base64url character is one of four, so the flip is
	// made where any character may stand.)
	flip := byte('0')
	if a[len(a)-3] == flip {
		flip = '1'
	}
	tampered := []string{a[:len(a)-3] + string(flip) + a[len(a)-2:], a + "A", a[:len(a)-1], strings.Replace(a, ".", "X.", 1)}
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
	if n := c.cache.Len(); n > 2 {
		t.Fatalf("%d entries, max 2", n)
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

// TestVerifiedTokensKeyRemoval: when a key leaves the keyset (retired past
// its TTL, or pulled), tokens it signed are no longer answered from the
// cache; a reload that removes nothing keeps the cache.
func TestVerifiedTokensKeyRemoval(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256"}
	var published atomic.Pointer[jose.JSONWebKeySet]
	publish := func(ks ...jose.JSONWebKey) { published.Store(&jose.JSONWebKeySet{Keys: ks}) } // a new slice, as each reload makes
	publish(jwk)
	var lookups atomic.Int64
	v := &accesstoken.Verifier{
		Issuer: "https://iss", Audience: "https://iss", Algorithms: []jose.SignatureAlgorithm{jose.ES256},
		Keys: func(kid string) (*jose.JSONWebKey, error) {
			lookups.Add(1)
			for _, k := range published.Load().Keys {
				if k.KeyID == kid {
					return &k, nil
				}
			}
			return nil, accesstoken.ErrUnknownKey
		},
		Now: func() time.Time { return now },
	}
	tok, err := accesstoken.Mint(accesstoken.Claims{Issuer: "https://iss", Subject: "u", Audience: accesstoken.Audience{"https://iss"},
		Expiry: now.Add(time.Hour).Unix(), IssuedAt: now.Unix(), ID: "j", ClientID: "c"}, "k1", jose.ES256, key)
	if err != nil {
		t.Fatal(err)
	}
	c := newVerifiedTokens(10, func() jose.JSONWebKeySet { return *published.Load() })
	for range 2 {
		if _, err := c.verify(v, tok, now); err != nil {
			t.Fatal(err)
		}
	}
	other := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k2", Algorithm: "ES256"}
	publish(jwk, other) // a reload that adds a next key
	if _, err := c.verify(v, tok, now); err != nil || lookups.Load() != 1 {
		t.Fatalf("after a reload that removed nothing: err %v, %d verifications, want the cached answer", err, lookups.Load())
	}
	publish(other) // k1 leaves the keyset
	if cl, err := c.verify(v, tok, now); err == nil {
		t.Fatalf("a token signed by a removed key was answered from the cache: %v", cl)
	}
}

// BenchmarkVerifiedTokensHit is the cost of a JWT seen before: key-set
// watch, SHA-256 and a cache lookup, from every core at once.
func BenchmarkVerifiedTokensHit(b *testing.B) {
	e := newEnv(b)
	e.addUser("bo", pw)
	at, _ := e.loginTokens("bo", nil)
	c := e.srv.verified
	now := e.clock.Now()
	if _, err := c.verify(e.srv.atVerifier, at, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.verify(e.srv.atVerifier, at, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
