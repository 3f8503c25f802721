package passkey_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/tessera-auth/tessera/passkey/passkeytest"
)

type benchUser struct{ creds []webauthn.Credential }

func (benchUser) WebAuthnID() []byte                           { return []byte("u1") }
func (benchUser) WebAuthnName() string                         { return "alice" }
func (benchUser) WebAuthnDisplayName() string                  { return "alice" }
func (u benchUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// BenchmarkAssertionVerify is what the library does for one login
// assertion (W3C WebAuthn §7.2): parse the PublicKeyCredential JSON,
// CBOR authenticator data and clientDataJSON, check type, challenge,
// origin, rpIdHash and flags, decode the COSE key, verify the ECDSA
// P-256 signature. Compare with BenchmarkECDSAP256Verify in the same
// run: the signature is one ECDSA verify, the rest is parsing.
func BenchmarkAssertionVerify(b *testing.B) {
	verify := assertionVerifier(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		verify()
	}
}

// BenchmarkAssertionVsECDSA interleaves the two, one of each per
// iteration, so that a noisy shared machine slows both alike, and
// reports their costs and the ratio (assertion / raw verify).
func BenchmarkAssertionVsECDSA(b *testing.B) {
	verify, raw := assertionVerifier(b), ecdsaVerifier(b)
	var ta, te time.Duration
	for b.Loop() {
		t0 := time.Now()
		verify()
		t1 := time.Now()
		raw()
		te += time.Since(t1)
		ta += t1.Sub(t0)
	}
	n := float64(b.N)
	b.ReportMetric(float64(ta.Nanoseconds())/n, "assertion-ns/op")
	b.ReportMetric(float64(te.Nanoseconds())/n, "ecdsa-ns/op")
	b.ReportMetric(float64(ta)/float64(te), "ratio")
}

// assertionVerifier returns one assertion verification, ready to repeat.
func assertionVerifier(b *testing.B) func() {
	wa, err := webauthn.New(&webauthn.Config{RPID: "auth.example.test", RPDisplayName: "Tessera", RPOrigins: []string{origin}})
	if err != nil {
		b.Fatal(err)
	}
	a := passkeytest.New(origin)
	u := benchUser{}
	opts, sd, err := wa.BeginRegistration(u)
	if err != nil {
		b.Fatal(err)
	}
	o, _ := json.Marshal(opts)
	parsedReg, err := protocol.ParseCredentialCreationResponseBytes(a.Create(b, o))
	if err != nil {
		b.Fatal(err)
	}
	cred, err := wa.CreateCredential(u, *sd, parsedReg)
	if err != nil {
		b.Fatal(err)
	}
	u.creds = []webauthn.Credential{*cred}
	lopts, lsd, err := wa.BeginLogin(u)
	if err != nil {
		b.Fatal(err)
	}
	lo, _ := json.Marshal(lopts)
	assertion := a.Get(b, lo)
	return func() {
		p, err := protocol.ParseCredentialRequestResponseBytes(assertion)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := wa.ValidateLogin(u, *lsd, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDSAP256Verify is the raw cost: one SHA-256 and one ECDSA
// P-256 verification of an ASN.1 signature.
func BenchmarkECDSAP256Verify(b *testing.B) {
	raw := ecdsaVerifier(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		raw()
	}
}

// ecdsaVerifier returns one raw P-256 verification, ready to repeat.
func ecdsaVerifier(b *testing.B) func() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 37+32) // authenticator data + client data hash, as signed
	h := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&key.PublicKey, h[:], sig) {
			b.Fatal("bad signature")
		}
	}
}
