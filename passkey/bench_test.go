package passkey_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"testing"

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
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
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
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(&key.PublicKey, h[:], sig) {
			b.Fatal("bad signature")
		}
	}
}
