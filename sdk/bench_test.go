package sdk

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkVerify compares the SDK's Verify on a real ES256 access token
// (warm key cache, a healthy revocation follower running) with the bare
// cryptographic floor: SHA-256 of the signing input and ecdsa.Verify of the
// token's own r||s signature, nothing else. "sdk" is what a service pays per
// request: a token is presented many times during its 15 minutes, so after
// the first request it is a verified-cache hit (plus expiry and revocation
// checks). "sdk-uncached" runs the full accesstoken verification every time.
// Report raw ns/op ÷ sdk ns/op as the ratio.
func BenchmarkVerify(b *testing.B) {
	e := newEnv(b)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	cfgNow := time.Now // the real clock: the follower must really stay healthy

	rev, err := NewRevocations(RevocationsConfig{URL: e.srv.URL + "/v1/revocations", ClientID: e.clientID, ClientSecret: e.secret, Now: cfgNow})
	if err != nil {
		b.Fatal(err)
	}
	if err := rev.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	go rev.Run(ctx)
	tok := e.loginTokens(0).Access
	newV := func(cacheSize int) *Verifier {
		v, err := NewVerifier(VerifierConfig{Issuer: e.f.Issuer, Audience: e.f.Issuer, JWKSURL: e.srv.URL + jwksPath, Revocations: rev, CacheSize: cacheSize, Now: cfgNow})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
		return v
	}

	// The raw baseline's inputs, prepared once: the public key, the signing
	// input and the 64-byte r||s (RFC 7518 §3.4).
	obj, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		b.Fatal(err)
	}
	jwk, err := e.f.Keys.PublicKey(obj.Signatures[0].Protected.KeyID)
	if err != nil {
		b.Fatal(err)
	}
	pub := jwk.Key.(*ecdsa.PublicKey)
	dot := strings.LastIndexByte(tok, '.')
	signingInput := []byte(tok[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil || len(sig) != 64 {
		b.Fatalf("signature: %v (%d bytes)", err, len(sig))
	}

	b.Run("raw-ecdsa", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := sha256.Sum256(signingInput)
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			if !ecdsa.Verify(pub, h[:], r, s) {
				b.Fatal("bad signature")
			}
		}
	})
	for _, bc := range []struct {
		name      string
		cacheSize int
	}{{"sdk", 0}, {"sdk-uncached", -1}} {
		v := newV(bc.cacheSize)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
