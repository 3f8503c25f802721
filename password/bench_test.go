package password

import (
	"context"
	"testing"

	"golang.org/x/crypto/argon2"
)

const benchPassword = "correct horse battery staple"

// BenchmarkArgon2idRaw is the floor for BenchmarkHasherVerify: what argon2id
// itself costs at DefaultParams, without parsing, the slot or the compare.
func BenchmarkArgon2idRaw(b *testing.B) {
	p := DefaultParams()
	salt := make([]byte, p.SaltLength)
	pw := []byte(benchPassword)
	for b.Loop() {
		argon2.IDKey(pw, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

// BenchmarkHasherVerify is one login's password check at DefaultParams.
func BenchmarkHasherVerify(b *testing.B) {
	h := newTestHasher(b, DefaultParams(), 0)
	ctx := context.Background()
	encoded, err := h.Hash(ctx, benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, encoded, benchPassword); !ok || err != nil {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkHasherVerifyParallel is login throughput with every core asking
// at once, so that it shows what the hashing slots allow.
func BenchmarkHasherVerifyParallel(b *testing.B) {
	h := newTestHasher(b, DefaultParams(), 0)
	ctx := context.Background()
	encoded, err := h.Hash(ctx, benchPassword)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, err := h.Verify(ctx, encoded, benchPassword); !ok || err != nil {
				b.Errorf("Verify = %v, %v", ok, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}
