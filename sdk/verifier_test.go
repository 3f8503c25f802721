package sdk

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
)

const jwksPath = "/.well-known/jwks.json"

func TestVerifyLoginToken(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(nil)
	l := e.loginTokens(0)
	c, err := v.Verify(context.Background(), l.Access)
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionID != l.SessionID || c.Subject == "" || c.ClientID != "tessera" {
		t.Fatalf("claims %+v, want sid %s", c, l.SessionID)
	}
	// A second verification is served from the verified-token cache and
	// fetches nothing more.
	if _, err := v.Verify(context.Background(), l.Access); err != nil {
		t.Fatal(err)
	}
	if n := e.count(jwksPath); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1", n)
	}
}

func TestJWKSFollowsRotation(t *testing.T) {
	for _, cacheSize := range []int{0, -1} {
		t.Run(fmt.Sprintf("cache=%d", cacheSize), func(t *testing.T) {
			e := newEnv(t)
			v := e.verifier(func(c *VerifierConfig) { c.CacheSize = cacheSize })
			ctx := context.Background()
			old := e.loginTokens(0)
			if _, err := v.Verify(ctx, old.Access); err != nil {
				t.Fatal(err)
			}
			// Tessera publishes the next key before it signs, so one rotation
			// would be invisible; after two, the signing key was born after
			// our fetch and only a refetch can know it.
			for range 2 {
				if _, err := e.f.Keys.Rotate(ctx); err != nil {
					t.Fatal(err)
				}
			}
			fresh := e.loginTokens(1)
			// Unknown-kid refetches are spaced by MinRefetchInterval (30 s);
			// the cold-start fetch just now counts as one.
			e.clock.Add(30 * time.Second)
			if _, err := v.Verify(ctx, fresh.Access); err != nil {
				t.Fatalf("token from the rotated key: %v", err)
			}
			if n := e.count(jwksPath); n != 2 {
				t.Fatalf("%d JWKS fetches, want 2 (one refetch)", n)
			}
			// The retired key is still published: older tokens keep verifying.
			if _, err := v.Verify(ctx, old.Access); err != nil {
				t.Fatalf("token from the retired key: %v", err)
			}
			if n := e.count(jwksPath); n != 2 {
				t.Fatalf("%d JWKS fetches, want still 2", n)
			}
		})
	}
}

// foreignToken is a well-formed at+jwt signed by a key Tessera never had,
// under an arbitrary kid: what a flood of random kids looks like.
func foreignToken(t testing.TB, iss, kid string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := accesstoken.Mint(accesstoken.Claims{Issuer: iss, Subject: "x", Audience: accesstoken.Audience{iss}, Expiry: now.Add(time.Hour).Unix(), IssuedAt: now.Unix(), ID: kid, ClientID: "x"}, kid, jose.ES256, k)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(func(c *VerifierConfig) { c.MinRefetchInterval = 30 * time.Second })
	ctx := context.Background()
	if _, err := v.Verify(ctx, e.loginTokens(0).Access); err != nil {
		t.Fatal(err)
	}
	flood := func(n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, err := v.Verify(ctx, foreignToken(t, e.f.Issuer, fmt.Sprintf("kid-%d-%d", i, time.Now().UnixNano())))
				if !errors.Is(err, accesstoken.ErrUnknownKey) {
					t.Errorf("random kid: %v, want ErrUnknownKey", err)
				}
			})
		}
		wg.Wait()
	}
	// The first fetch was the cold start; the clock has not moved, so the
	// whole flood rides on it.
	flood(50)
	if n := e.count(jwksPath); n != 1 {
		t.Fatalf("%d JWKS fetches after a flood inside the interval, want 1", n)
	}
	e.clock.Add(30 * time.Second)
	flood(50)
	if n := e.count(jwksPath); n != 2 {
		t.Fatalf("%d JWKS fetches after a flood in the next interval, want 2", n)
	}
}

func TestAttackTokensRefused(t *testing.T) {
	e := newEnv(t)
	good := e.loginTokens(0).Access
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	claims["sub"] = "admin"
	forged, _ := json.Marshal(claims)
	b64 := base64.RawURLEncoding.EncodeToString

	cases := []struct {
		name  string
		token string
		mod   func(*VerifierConfig)
		want  error
	}{
		{"alg none", b64([]byte(`{"alg":"none","typ":"at+jwt","kid":"x"}`)) + "." + parts[1] + ".", nil, accesstoken.ErrHeader},
		{"HS256 with the public key as secret", b64([]byte(`{"alg":"HS256","typ":"at+jwt","kid":"x"}`)) + "." + parts[1] + "." + parts[2], nil, accesstoken.ErrHeader},
		{"payload swapped", parts[0] + "." + b64(forged) + "." + parts[2], nil, accesstoken.ErrSignature},
		{"embedded jwk header", b64([]byte(`{"alg":"ES256","typ":"at+jwt","kid":"x","jwk":{}}`)) + "." + parts[1] + "." + parts[2], nil, accesstoken.ErrHeader},
		{"two parts", parts[0] + "." + parts[1], nil, accesstoken.ErrMalformed},
		{"foreign key", foreignToken(t, e.f.Issuer, "k"), nil, accesstoken.ErrUnknownKey},
		{"wrong issuer", good, func(c *VerifierConfig) { c.Issuer = "https://evil.example" }, accesstoken.ErrClaims},
		{"wrong audience", good, func(c *VerifierConfig) { c.Audience = "https://other-api.example" }, accesstoken.ErrClaims},
		{"expired", good, func(c *VerifierConfig) {
			c.Now = func() time.Time { return time.Now().Add(16 * time.Minute) }
		}, accesstoken.ErrExpired},
		{"oversized", good + strings.Repeat("A", accesstoken.MaxLen), nil, accesstoken.ErrMalformed},
		// A 15 min token against a verifier told tokens live at most 5 min.
		{"longer than MaxLifetime", good, func(c *VerifierConfig) { c.MaxLifetime = 5 * time.Minute }, accesstoken.ErrClaims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := e.verifier(tc.mod)
			_, err := v.Verify(context.Background(), tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if Temporary(err) {
				t.Fatalf("%v must not read as temporary", err)
			}
		})
	}
}

func TestCachedTokenStillExpires(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(nil)
	tok := e.loginTokens(0).Access
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(15*time.Minute + 31*time.Second) // access TTL + default leeway
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, accesstoken.ErrExpired) {
		t.Fatalf("cached token past exp: %v, want ErrExpired", err)
	}
}

func TestNewVerifierRefusesUnsafeConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  VerifierConfig
	}{
		{"no issuer", VerifierConfig{Audience: "a"}},
		{"no audience", VerifierConfig{Issuer: "https://i"}},
		{"HS256", VerifierConfig{Issuer: "https://i", Audience: "a", Algorithms: []jose.SignatureAlgorithm{jose.HS256}}},
		{"none", VerifierConfig{Issuer: "https://i", Audience: "a", Algorithms: []jose.SignatureAlgorithm{"none"}}},
		{"relative JWKS URL", VerifierConfig{Issuer: "https://i", Audience: "a", JWKSURL: "/jwks"}},
		{"negative leeway", VerifierConfig{Issuer: "https://i", Audience: "a", Leeway: -time.Second}},
		{"negative max lifetime", VerifierConfig{Issuer: "https://i", Audience: "a", MaxLifetime: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewVerifier(tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestJWKSFailures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.loginTokens(0).Access

	t.Run("cold start fails closed", func(t *testing.T) {
		e.failPath(jwksPath, 503)
		defer e.failPath(jwksPath, 0)
		v := e.verifier(nil)
		_, err := v.Verify(ctx, tok)
		if !errors.Is(err, ErrUnavailable) || !Temporary(err) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	})
	t.Run("warm cache survives a failed refresh", func(t *testing.T) {
		v := e.verifier(func(c *VerifierConfig) { c.CacheSize = -1 })
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		e.failPath(jwksPath, 500)
		defer e.failPath(jwksPath, 0)
		before := e.count(jwksPath)
		e.clock.Add(6 * time.Minute) // past RefreshInterval, within the token's life
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("with a failed background refresh: %v", err)
		}
		eventually(t, "the background refresh", func() bool { return e.count(jwksPath) > before && !v.refreshing.Load() })
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("after a failed background refresh: %v", err)
		}
		if n := e.count(jwksPath); n != before+1 {
			t.Fatalf("%d fetches during the outage, want 1 (the floor applies)", n-before)
		}
	})
	t.Run("oversized document", func(t *testing.T) {
		// The real server never sends this; a stand-in checks the bound.
		huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[`))
			w.Write(bytes.Repeat([]byte(" "), maxJWKSBody))
			w.Write([]byte(`]}`))
		}))
		defer huge.Close()
		v := e.verifier(func(c *VerifierConfig) { c.JWKSURL = huge.URL })
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	})
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(nil)
	set := e.f.Keys.JWKS()
	good, _ := json.Marshal(set.Keys[0])
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	private, _ := json.Marshal(jose.JSONWebKey{Key: k, KeyID: "priv", Algorithm: "ES256"})
	noAlg, _ := json.Marshal(jose.JSONWebKey{Key: k.Public(), KeyID: "noalg"})
	enc, _ := json.Marshal(jose.JSONWebKey{Key: k.Public(), KeyID: "enc", Algorithm: "ES256", Use: "enc"})
	doc := `{"keys":[` + string(good) + `,` + string(private) + `,` + string(noAlg) + `,` + string(enc) + `,{"kty":"OKP","crv":"X448","x":"AA","kid":"future","alg":"EdDSA"}]}`
	keys, err := v.parseJWKS([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[set.Keys[0].KeyID] == nil {
		t.Fatalf("kept %v, want only %s", keys, set.Keys[0].KeyID)
	}
}

func TestMaxAge(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"public, max-age=300", 300 * time.Second, true},
		{"max-age=0", 0, true},
		{"no-store", 0, true},
		{"Max-Age=60, public", 60 * time.Second, true},
		{"public", 0, false},
		{"max-age=-1", 0, false},
		{"max-age=abc", 0, false},
		{"", 0, false},
	} {
		got, ok := maxAge(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("maxAge(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestKeyRemovalRaceDoesNotRefillCache: a verification that began before a
// key left the key set (which clears the cache) must not put its result in
// the cache afterwards, or a token signed by the pulled key would be served
// from the cache until it expires.
func TestKeyRemovalRaceDoesNotRefillCache(t *testing.T) {
	e := newEnv(t)
	v := e.verifier(nil)
	ctx := context.Background()
	tok := e.loginTokens(0).Access
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// The key set as it was before a key was pulled: one more key.
	cur := v.keys.Load()
	withGone := map[string]*jose.JSONWebKey{"pulled": cur.keys[firstKID(cur)]}
	for kid, k := range cur.keys {
		withGone[kid] = k
	}
	v.setKeys(&keySnapshot{keys: withGone, refreshAt: cur.refreshAt})

	gen := v.cache.Generation() // a verification begins…
	c, err := v.atv.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	if err := v.fetch(ctx); err != nil { // …the key is pulled meanwhile…
		t.Fatal(err)
	}
	key := accesstoken.KeyOf(tok)
	now := e.clock.Now()
	v.cache.Put(key, c, gen, now) // …and the verification ends.
	if cached, _ := v.cache.Get(key, now); cached != nil {
		t.Fatal("a verification that raced a key removal refilled the cache")
	}
	// Without a removal in between, results are cached as usual.
	v.cache.Put(key, c, v.cache.Generation(), now)
	if cached, _ := v.cache.Get(key, now); cached == nil {
		t.Fatal("verified claims were not cached")
	}
}

func firstKID(s *keySnapshot) string {
	for kid := range s.keys {
		return kid
	}
	return ""
}
