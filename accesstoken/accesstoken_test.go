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
	"math/big"
	"slices"
	"strings"
	"sync"
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
	case jose.ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.ES512:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		priv, err = rsaKey()
	}
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{kid: "k1_" + string(alg), alg: alg, priv: priv}
	f.pub = jose.JSONWebKey{Key: priv.Public(), KeyID: f.kid, Algorithm: string(alg), Use: "sig"}
	algs := []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}
	if !slices.Contains(algs, alg) {
		algs = append(algs, alg)
	}
	f.v = &Verifier{
		Issuer: "https://auth.example.test", Audience: "api",
		Algorithms: algs,
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

// rsaKey is shared by the RSA fixtures: generating one takes a while.
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// allAlgs are the asymmetric algorithms the SDK allows.
var allAlgs = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
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
	if pub, ok := f.priv.Public().(*ecdsa.PublicKey); ok {
		// As Mint does: the verifier refuses the high-s half (lowS).
		if s, err = lowS(s, pub.Curve); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestRoundTrip(t *testing.T) {
	for _, alg := range allAlgs {
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
		// Some issuers write the media type in full (RFC 9068 §2.1).
		if _, err := f.v.Verify(f.signRaw(t, gj, (&jose.SignerOptions{}).WithType("application/AT+JWT"))); err != nil {
			t.Fatalf("%s: typ application/AT+JWT: %v", alg, err)
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

	// The same token under the kid of a key published for another algorithm.
	edPriv := newFixture(t, jose.EdDSA).priv
	edSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: edPriv, KeyID: f.kid}}, atjwt())
	edObj, _ := edSigner.Sign(payload)
	edTok, _ := edObj.CompactSerialize()

	// A signature with other trailing bits decodes to the same bytes
	// unless the decoder is strict: ES256's 86 characters carry 4 spare
	// bits, zero in the canonical encoding.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, parts[2][85])
	if last&15 != 0 {
		t.Fatalf("canonical ES256 signature ends in %q", parts[2][85])
	}
	sigAlias := parts[2][:85] + alphabet[last+1:last+2]

	claimsWith := func(extra string) []byte {
		return []byte(`{"iss":"https://auth.example.test","sub":"user-1","aud":"api","exp":9999999999,"iat":1,"jti":"x"` + extra + `}`)
	}

	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"alg allowed but not for this key", edTok, ErrUnknownKey},
		{"alg allowed elsewhere, not here", newFixture(t, jose.ES384).mint(t, claims()), ErrHeader},
		{"escaped duplicate claim", f.signRaw(t, claimsWith(`,"\u0073ub":"admin"`), atjwt()), ErrClaims},
		{"claim in another case", f.signRaw(t, claimsWith(`,"SUB":"admin"`), atjwt()), ErrClaims},
		{"claim in another case by Unicode folding", f.signRaw(t, claimsWith(`,"ſub":"admin"`), atjwt()), ErrClaims},
		{"null claim", f.signRaw(t, claimsWith(`,"sid":null`), atjwt()), ErrClaims},
		{"aud not a string", f.signRaw(t, []byte(`{"iss":"https://auth.example.test","sub":"user-1","aud":1,"exp":9999999999,"iat":1,"jti":"x"}`), atjwt()), ErrClaims},
		{"exp not an integer", f.signRaw(t, []byte(`{"iss":"https://auth.example.test","sub":"user-1","aud":"api","exp":9999999999.5,"iat":1,"jti":"x"}`), atjwt()), ErrClaims},
		{"data after the claims", f.signRaw(t, append(claimsWith(""), "{}"...), atjwt()), ErrClaims},
		{"x5c header", f.signRaw(t, payload, atjwt().WithHeader("x5c", []string{"MIIB"})), ErrHeader},
		{"b64 header", f.signRaw(t, payload, atjwt().WithHeader("b64", false)), ErrHeader},
		{"unknown header", f.signRaw(t, payload, atjwt().WithHeader("foo", "bar")), ErrHeader},
		{"kid not a string", b64(`{"alg":"ES256","typ":"at+jwt","kid":["`+f.kid+`"]}`) + "." + parts[1] + "." + parts[2], ErrHeader},
		{"duplicate alg", b64(`{"alg":"ES256","typ":"at+jwt","kid":"`+f.kid+`","alg":"none"}`) + "." + parts[1] + "." + parts[2], ErrHeader},
		{"header not JSON", b64(`nope`) + "." + parts[1] + "." + parts[2], ErrHeader},
		{"header not an object", b64(`["alg"]`) + "." + parts[1] + "." + parts[2], ErrHeader},
		{"padded header", parts[0] + "==." + parts[1] + "." + parts[2], ErrMalformed},
		{"payload not base64url", parts[0] + ".e30+." + parts[2], ErrMalformed},
		{"line break in token", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], ErrMalformed},
		{"signature with other trailing bits", parts[0] + "." + parts[1] + "." + sigAlias, ErrSignature},
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
	// A signer whose clock runs 10s ahead.
	ahead := claims()
	ahead.IssuedAt = now.Add(10 * time.Second).Unix()
	ahead.NotBefore = ahead.IssuedAt
	f.v.Leeway = 0
	if _, err := f.v.Verify(f.mint(t, ahead)); err != nil {
		t.Fatalf("iat and nbf 10s ahead with 30s leeway: %v", err)
	}
	f.v.Leeway = time.Second
	if _, err := f.v.Verify(f.mint(t, ahead)); !errors.Is(err, ErrClaims) {
		t.Fatalf("iat and nbf 10s ahead with 1s leeway: %v", err)
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

// TestCurveFits: a key published as ES256 but on another curve is refused
// before golang-jwt, which checks only the signature's length, sees it.
func TestCurveFits(t *testing.T) {
	keys := map[elliptic.Curve]*ecdsa.PublicKey{}
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[c] = &k.PublicKey
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		alg  jose.SignatureAlgorithm
		key  any
		want bool
	}{
		{jose.ES256, keys[elliptic.P256()], true},
		{jose.ES384, keys[elliptic.P384()], true},
		{jose.ES512, keys[elliptic.P521()], true},
		{jose.ES256, keys[elliptic.P384()], false},
		{jose.ES384, keys[elliptic.P521()], false},
		{jose.ES512, keys[elliptic.P256()], false},
		{jose.ES256, ed.Public(), false},
	} {
		if got := curveFits(tc.alg, tc.key); got != tc.want {
			t.Errorf("curveFits(%s, %T %v) = %v", tc.alg, tc.key, tc.key, got)
		}
	}
}

// TestKeyTypeMismatch: a published key whose "alg" names another key type
// verifies nothing.
func TestKeyTypeMismatch(t *testing.T) {
	for _, tc := range []struct{ signWith, publish jose.SignatureAlgorithm }{
		{jose.RS256, jose.ES256}, {jose.ES256, jose.RS256}, {jose.EdDSA, jose.ES256},
	} {
		signer, published := newFixture(t, tc.signWith), newFixture(t, tc.publish)
		// The signer's algorithm and kid, the other fixture's key.
		signer.pub.Key = published.priv.Public()
		if _, err := signer.v.Verify(signer.mint(t, claims())); !errors.Is(err, ErrSignature) {
			t.Errorf("%s token, %s key: %v, want ErrSignature", tc.signWith, tc.publish, err)
		}
	}
}

// TestNoKeyLookupForJunk: a token that cannot be decoded never reaches the
// KeyFunc, whose unknown-kid answer can cost the SDK a JWKS fetch.
func TestNoKeyLookupForJunk(t *testing.T) {
	f := newFixture(t, jose.ES256)
	parts := strings.Split(f.mint(t, claims()), ".")
	lookups := 0
	keys := f.v.Keys
	f.v.Keys = func(kid string) (*jose.JSONWebKey, error) { lookups++; return keys(kid) }
	hdr := b64(`{"alg":"ES256","typ":"at+jwt","kid":"unknown"}`)
	for _, tok := range []string{hdr + ".e30+." + parts[2], hdr + "." + parts[1] + ".AB+"} {
		if _, err := f.v.Verify(tok); err == nil || errors.Is(err, ErrUnknownKey) {
			t.Errorf("%s: %v", tok, err)
		}
	}
	if lookups != 0 {
		t.Fatalf("%d key lookups for undecodable tokens", lookups)
	}
}

// A token is refused when it claims to live longer than the verifier's
// MaxLifetime (plus leeway) or was issued in the future: a stolen signing
// key must not mint tokens that outlive every revocation (issue 10, M2(c)).
func TestMaxLifetime(t *testing.T) {
	f := newFixture(t, jose.ES256)
	decade := claims()
	decade.Expiry = now.AddDate(10, 0, 0).Unix()
	if _, err := f.v.Verify(f.mint(t, decade)); !errors.Is(err, ErrClaims) {
		t.Fatalf("exp ten years ahead with the default MaxLifetime: %v", err)
	}

	f.v.MaxLifetime = 15 * time.Minute
	f.v.Leeway = 10 * time.Second
	edge := claims()
	edge.Expiry = now.Add(15*time.Minute + 10*time.Second).Unix()
	if _, err := f.v.Verify(f.mint(t, edge)); err != nil {
		t.Fatalf("exp - iat = MaxLifetime + leeway: %v", err)
	}
	over := claims()
	over.Expiry = now.Add(15*time.Minute + 11*time.Second).Unix()
	if _, err := f.v.Verify(f.mint(t, over)); !errors.Is(err, ErrClaims) {
		t.Fatalf("exp - iat = MaxLifetime + leeway + 1s: %v", err)
	}
	// iat in the past does not stretch the window: exp - iat is what counts.
	backdated := claims()
	backdated.IssuedAt = now.Add(-time.Hour).Unix()
	if _, err := f.v.Verify(f.mint(t, backdated)); !errors.Is(err, ErrClaims) {
		t.Fatalf("iat an hour ago, exp in 15 min: %v", err)
	}
	future := claims()
	future.IssuedAt = now.Add(11 * time.Second).Unix()
	future.Expiry = future.IssuedAt + 60
	if _, err := f.v.Verify(f.mint(t, future)); !errors.Is(err, ErrClaims) {
		t.Fatalf("iat 11s ahead with 10s leeway: %v", err)
	}
}

// TestHighSRefused: an ECDSA signature (r, s) is also valid as (r, n−s);
// Mint issues only the low-s spelling and Verify refuses the other, so one
// token has one string (RFC 8725 §3.1's spirit). Without the check in
// Verify the flipped token is accepted; without lowS in Mint about half
// of the minted tokens are refused.
func TestHighSRefused(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512} {
		f := newFixture(t, alg)
		curve := f.priv.Public().(*ecdsa.PublicKey).Curve
		for i := 0; i < 16; i++ {
			tok := f.mint(t, claims())
			if _, err := f.v.Verify(tok); err != nil {
				t.Fatalf("%s: minted token refused: %v", alg, err)
			}
			dot := strings.LastIndexByte(tok, '.')
			sig, _ := base64.RawURLEncoding.DecodeString(tok[dot+1:])
			half := sig[len(sig)/2:]
			s := new(big.Int).SetBytes(half)
			new(big.Int).Sub(curve.Params().N, s).FillBytes(half)
			flipped := tok[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
			if _, err := f.v.Verify(flipped); !errors.Is(err, ErrSignature) {
				t.Fatalf("%s: high-s twin of a valid token: %v, want ErrSignature", alg, err)
			}
		}
	}
}
