// Package passkeytest is a software WebAuthn authenticator for tests: it
// answers real registration options with a real attestation object
// ("none" or "packed" self-attestation) and real assertion options with
// an assertion signed by its own ECDSA P-256 key, so the relying party's
// library checks everything it would check for a security key.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator flags (W3C WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// Authenticator holds credentials like a CTAP2 authenticator with
// resident keys. Its fields may be changed between ceremonies to
// produce the failure cases.
type Authenticator struct {
	// Origin is what the "client" puts in clientDataJSON.
	Origin string
	// RPID, if set, overrides the RP ID the options name (the rpIdHash
	// in authenticator data): a wrong RP ID.
	RPID string
	// UV: the authenticator verifies the user (sets the UV flag).
	UV bool
	// BackupEligible: a synced passkey (BE and BS set), not a
	// hardware-bound key.
	BackupEligible bool
	// Attestation is "none" (default) or "packed" (self-attestation).
	Attestation string
	// AAGUID names the authenticator model.
	AAGUID [16]byte

	creds []*Credential
}

// Credential is one key the authenticator holds.
type Credential struct {
	ID         []byte
	Key        *ecdsa.PrivateKey
	RPID       string
	UserHandle []byte
	Counter    uint32 // the next assertion signs Counter+1; set it to go backwards
}

// New returns an authenticator for origin.
func New(origin string) *Authenticator {
	return &Authenticator{Origin: origin, UV: true, AAGUID: [16]byte{0x7e, 0x55, 0xe7, 0xa0}}
}

// Credentials are the keys created so far.
func (a *Authenticator) Credentials() []*Credential { return a.creds }

var b64 = base64.RawURLEncoding

type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge        string `json:"challenge"`
		RPID             string `json:"rpId"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func (a *Authenticator) flags() byte {
	f := byte(flagUP)
	if a.UV {
		f |= flagUV
	}
	if a.BackupEligible {
		f |= flagBE | flagBS
	}
	return f
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

var enc, _ = cbor.CTAP2EncOptions().EncMode()

// Create answers registration options (the JSON of POST
// /v1/webauthn/register/begin: {"publicKey": …}) with a new credential:
// the PublicKeyCredential JSON a browser's toJSON() gives.
func (a *Authenticator) Create(t testing.TB, options []byte) []byte {
	t.Helper()
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatalf("passkeytest: creation options: %v", err)
	}
	user, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		t.Fatalf("passkeytest: user id: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	rpID := o.PublicKey.RP.ID
	if a.RPID != "" {
		rpID = a.RPID
	}
	c := &Credential{ID: id, Key: key, RPID: o.PublicKey.RP.ID, UserHandle: user}
	a.creds = append(a.creds, c)

	pub, _ := key.PublicKey.ECDH() // uncompressed point: 0x04 || X || Y
	raw := pub.Bytes()
	cose, err := enc.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		t.Fatal(err)
	}
	rpHash := sha256.Sum256([]byte(rpID))
	authData := append(rpHash[:], a.flags()|flagAT, 0, 0, 0, 0)
	authData = append(authData, a.AAGUID[:]...)
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(id)))
	authData = append(authData, id...)
	authData = append(authData, cose...)

	cd := a.clientData("webauthn.create", o.PublicKey.Challenge)
	att := map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData}
	if a.Attestation == "packed" {
		// §8.2 self attestation: the credential key signs authData || hash(clientData).
		att["fmt"] = "packed"
		att["attStmt"] = map[string]any{"alg": -7, "sig": sign(t, key, authData, cd)}
	}
	ao, err := enc.Marshal(att)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(id), "rawId": b64.EncodeToString(id), "type": "public-key",
		"authenticatorAttachment": "cross-platform",
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(ao),
			"transports": []string{"usb", "nfc"},
		},
		"clientExtensionResults": map[string]any{},
	})
	return out
}

// Get answers assertion options (the JSON of POST
// /v1/webauthn/login/begin) with an assertion by the first credential
// allowed (or, with no allow list, the first for the RP: a discoverable
// credential, whose user handle is returned).
func (a *Authenticator) Get(t testing.TB, options []byte) []byte {
	t.Helper()
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatalf("passkeytest: request options: %v", err)
	}
	var c *Credential
	for _, cand := range a.creds {
		if cand.RPID != o.PublicKey.RPID {
			continue
		}
		if len(o.PublicKey.AllowCredentials) == 0 {
			c = cand
			break
		}
		for _, al := range o.PublicKey.AllowCredentials {
			if al.ID == b64.EncodeToString(cand.ID) {
				c = cand
			}
		}
		if c != nil {
			break
		}
	}
	if c == nil {
		t.Fatalf("passkeytest: no credential for %s", options)
	}
	return a.Assert(t, c, o.PublicKey.Challenge)
}

// Assert signs an assertion of c over challenge (base64url), counting up.
func (a *Authenticator) Assert(t testing.TB, c *Credential, challenge string) []byte {
	t.Helper()
	c.Counter++
	rpID := c.RPID
	if a.RPID != "" {
		rpID = a.RPID
	}
	rpHash := sha256.Sum256([]byte(rpID))
	authData := append(rpHash[:], a.flags())
	authData = binary.BigEndian.AppendUint32(authData, c.Counter)
	cd := a.clientData("webauthn.get", challenge)
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.ID), "rawId": b64.EncodeToString(c.ID), "type": "public-key",
		"authenticatorAttachment": "cross-platform",
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(authData),
			"signature": b64.EncodeToString(sign(t, c.Key, authData, cd)), "userHandle": b64.EncodeToString(c.UserHandle),
		},
		"clientExtensionResults": map[string]any{},
	})
	return out
}

// Challenge reads the challenge of options (either kind).
func Challenge(t testing.TB, options []byte) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("passkeytest: no challenge in %s (%v)", options, err)
	}
	return o.PublicKey.Challenge
}

func sign(t testing.TB, key *ecdsa.PrivateKey, authData, clientData []byte) []byte {
	t.Helper()
	cdh := sha256.Sum256(clientData)
	h := sha256.Sum256(append(append([]byte{}, authData...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(fmt.Errorf("passkeytest: sign: %w", err))
	}
	return sig
}
