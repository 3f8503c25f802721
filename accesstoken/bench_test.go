package accesstoken

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkVerify/raw-ES256 is the floor Verify/ES256 is held to (see
// sdk.BenchmarkVerify): SHA-256 and ecdsa.Verify of the same token.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, jose.ES256)
	tok := f.mint(b, claims())
	dot := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	pub := f.pub.Key.(*ecdsa.PublicKey)
	b.Run("raw-ES256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := sha256.Sum256([]byte(tok[:dot]))
			if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
				b.Fatal("bad signature")
			}
		}
	})
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256} {
		f := newFixture(b, alg)
		tok := f.mint(b, claims())
		b.Run(string(alg), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse measures what Verify adds to the signature check: the
// header and the claims.
func BenchmarkParse(b *testing.B) {
	f := newFixture(b, jose.ES256)
	parts := strings.Split(f.mint(b, claims()), ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	b.Run("header", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseHeader(string(hdr)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("claims", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := decodeSegment(parts[1])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := parseClaims(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
