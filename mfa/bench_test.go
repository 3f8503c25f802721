package mfa

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/store"
)

// BenchmarkTOTPVerify is the CPU cost of checking one TOTP code as login
// does: open the sealed secret (AES-GCM under a derived key) and compute
// and compare the code of every step in ±1 (three HMAC-SHA1). Compare
// with BenchmarkHMACSHA1 from the same run: the ratio is the price of
// the sealing and the skew window (docs/mfa.md). The store's conditional
// step update is measured by the store benchmarks, not here.
func BenchmarkTOTPVerify(b *testing.B) {
	m, _, err := keys.NewMasterKey()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	s := New(nil, m, Config{Now: func() time.Time { return now }})
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Tessera", AccountName: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := m.Seal(sealPurpose, "u1", []byte(key.Secret()))
	if err != nil {
		b.Fatal(err)
	}
	code, _ := totp.GenerateCodeCustom(key.Secret(), now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	t := store.TOTP{UserID: "u1", SealedSecret: sealed}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.match("u1", t, code); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHMACSHA1 is the raw primitive: one HMAC-SHA1 over an 8-byte
// counter with a 20-byte key, as one TOTP step costs at its core.
func BenchmarkHMACSHA1(b *testing.B) {
	key := make([]byte, 20)
	var msg [8]byte
	b.ReportAllocs()
	for b.Loop() {
		binary.BigEndian.PutUint64(msg[:], 59000000)
		mac := hmac.New(sha1.New, key)
		mac.Write(msg[:])
		_ = mac.Sum(nil)
	}
}
