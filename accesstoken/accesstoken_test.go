package accesstoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
	pub  jose.JSONWebKey
	v    *Verifier
}

func newFixture(t testing.TB, alg jose.SignatureAlgorithm) *fixture {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{kid: "k1_" + string(alg), alg: alg, priv: priv}
	f.pub = jose.JSONWebKey{Key: priv.Public(), KeyID: f.kid, Algorithm: string(alg), Use: "sig"}
	f.v = &Verifier{
		Issuer: "https://auth.example.test", Audience: "api",
		Algorithms: []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256},
		Keys: func(kid string) (*jose.JSONWebKey, error) {
			if kid == f.kid {
				return &f.pub, nil
			}
			return nil, ErrUnknownKey
		},
		Now: func() time.Time { return now },
	}
	return f
}

func claims() Claims {
	return Claims{
		Issuer: "https://auth.example.test", Subject: "user-1", Audience: Audience{"api"},
		Expiry: now.Add(15 * time.Minute).Unix(), IssuedAt: now.Unix(), ID: "jti-1",
		ClientID: "app", Scope: "read write", SessionID: "s-1", AuthTime: now.Unix(), AMR: []string{"pwd"},
	}
}

func (f *fixture) mint(t testing.TB, c Claims) string {
	t.Helper()
	tok, err := Mint(c, f.kid, f.alg, f.priv)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signRaw signs arbitrary payload bytes with arbitrary header options.
func (f *fixture) signRaw(t testing.TB, payload []byte, opts *jose.SignerOptions) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: f.alg, Key: jose.JSONWebKey{Key: f.priv, KeyID: f.kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestRoundTrip(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256} {
		f := newFixture(t, alg)
		tok := f.mint(t, claims())
		hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		if !strings.Contains(string(hdr), `"typ":"at+jwt"`) {
			t.Fatalf("header %s lacks typ at+jwt", hdr)
		}
		got, err := f.v.Verify(tok)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		want := claims()
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Fatalf("%s: claims\n got %s\nwant %s", alg, gj, wj)
		}
	}
}

func TestAttacks(t *testing.T) {
	f := newFixture(t, jose.ES256)
	good := f.mint(t, claims())
	parts := strings.Split(good, ".")
	payload, _ := json.Marshal(claims())
	with := func(mut func(*Claims)) string {
		c := claims()
		mut(&c)
		return f.mint(t, c)
	}
	typ := func(s string) *jose.SignerOptions { return (&jose.SignerOptions{}).WithType(jose.ContentType(s)) }
	atjwt := func() *jose.SignerOptions { return typ("at+jwt") }

	// HS256 keyed with the public key's bytes: the classic key-confusion forgery.
	pubPEM, _ := json.Marshal(f.pub)
	hs, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubPEM}, atjwt().WithHeader("kid", f.kid))
	hsObj, _ := hs.Sign(payload)
	hsTok, _ := hsObj.CompactSerialize()

	// Tampered payload keeps the old signature.
	evil := claims()
	evil.Subject = "admin"
	evilJSON, _ := json.Marshal(evil)

	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"alg none", b64(`{"alg":"none","typ":"at+jwt","kid":"`+f.kid+`"}`) + "." + parts[1] + ".", ErrHeader},
		{"HS256 with the public key", hsTok, ErrHeader},
		{"unknown kid", f.signRawKID(t, payload, "other"), ErrUnknownKey},
		{"path kid", f.signRawKID(t, payload, "../../../dev/null"), ErrHeader},
		{"url kid", f.signRawKID(t, payload, "https://evil.example/k"), ErrHeader},
		{"no kid", f.signRawKID(t, payload, ""), ErrHeader},
		{"jku header", f.signRaw(t, payload, atjwt().WithHeader("jku", "https://evil.example/jwks")), ErrHeader},
		{"x5u header", f.signRaw(t, payload, atjwt().WithHeader("x5u", "https://evil.example/cert")), ErrHeader},
		{"embedded jwk", f.signRaw(t, payload, atjwt().WithHeader("jwk", f.pub)), ErrHeader},
		{"crit header", f.signRaw(t, payload, atjwt().WithHeader("crit", []string{"exp"})), ErrHeader},
		{"typ JWT (an ID token)", f.signRaw(t, payload, typ("JWT")), ErrHeader},
		{"no typ", f.signRaw(t, payload, nil), ErrHeader},
		{"expired", with(func(c *Claims) { c.Expiry = now.Add(-time.Minute).Unix() }), ErrExpired},
		{"not yet valid", with(func(c *Claims) { c.NotBefore = now.Add(time.Hour).Unix() }), ErrClaims},
		{"issued in the future", with(func(c *Claims) { c.IssuedAt = now.Add(time.Hour).Unix() }), ErrClaims},
		{"wrong issuer", with(func(c *Claims) { c.Issuer = "https://evil.example" }), ErrClaims},
		{"wrong audience", with(func(c *Claims) { c.Audience = Audience{"other-api"} }), ErrClaims},
		{"no jti", with(func(c *Claims) { c.ID = "" }), ErrClaims},
		{"tampered payload", parts[0] + "." + b64(string(evilJSON)) + "." + parts[2], ErrSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:10], ErrSignature},
		{"duplicate claims", f.signRaw(t, []byte(`{"iss":"https://auth.example.test","sub":"user-1","sub":"admin","aud":"api","exp":9999999999,"iat":1,"jti":"x"}`), atjwt()), ErrClaims},
		{"claims not an object", f.signRaw(t, []byte(`["iss"]`), atjwt()), ErrClaims},
		{"claims not JSON", f.signRaw(t, []byte(`not json`), atjwt()), ErrClaims},
		{"claims wrong type", f.signRaw(t, []byte(`{"iss":"https://auth.example.test","sub":1}`), atjwt()), ErrClaims},
		{"oversized", good + strings.Repeat("A", MaxLen), ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"JWE shape", good + ".x.y", ErrMalformed},
		{"garbage", "a.b.c", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.v.Verify(tt.tok)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if c != nil && tt.want != ErrExpired && tt.want != ErrClaims {
				t.Fatal("claims returned with a failed verification")
			}
		})
	}
}

func (f *fixture) signRawKID(t testing.TB, payload []byte, kid string) string {
	t.Helper()
	k := jose.JSONWebKey{Key: f.priv, KeyID: kid}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: f.alg, Key: k}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := signer.Sign(payload)
	s, _ := obj.CompactSerialize()
	return s
}

func TestLeeway(t *testing.T) {
	f := newFixture(t, jose.EdDSA)
	c := claims()
	c.Expiry = now.Add(-10 * time.Second).Unix() // within the default 30s leeway
	if _, err := f.v.Verify(f.mint(t, c)); err != nil {
		t.Fatalf("10s past exp with 30s leeway: %v", err)
	}
	f.v.Leeway = time.Second
	if _, err := f.v.Verify(f.mint(t, c)); !errors.Is(err, ErrExpired) {
		t.Fatalf("10s past exp with 1s leeway: %v", err)
	}
}

func TestAudienceForms(t *testing.T) {
	for _, in := range []string{`"api"`, `["api"]`, `["x","api"]`} {
		var a Audience
		if err := json.Unmarshal([]byte(in), &a); err != nil || !a.Contains("api") {
			t.Fatalf("%s: %v %v", in, a, err)
		}
	}
	var a Audience
	if err := json.Unmarshal([]byte(`5`), &a); err == nil {
		t.Fatal("numeric aud accepted")
	}
	if b, _ := json.Marshal(Audience{"api"}); string(b) != `"api"` {
		t.Fatalf("single audience marshals as %s", b)
	}
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f, jose.ES256)
	good := fx.mint(f, claims())
	f.Add(good)
	f.Add("")
	f.Add("..")
	f.Add(b64(`{"alg":"none"}`) + "." + b64(`{}`) + ".")
	want, _ := json.Marshal(claims())
	f.Fuzz(func(t *testing.T, s string) {
		c, err := fx.v.Verify(s)
		if err != nil {
			return
		}
		// Whatever verifies must carry exactly the genuine claims (an ECDSA
		// signature may be re-encoded, but content can never be forged).
		got, _ := json.Marshal(c)
		if string(got) != string(want) {
			t.Fatalf("accepted forged claims %s from %q", got, s)
		}
	})
}
