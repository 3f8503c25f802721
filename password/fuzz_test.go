package password

import (
	"context"
	"crypto/subtle"
	"errors"
	"testing"

	"golang.org/x/crypto/argon2"
)

// FuzzVerify feeds arbitrary stored hashes to the parser and to Verify. The
// seed corpus is in testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	h := newTestHasher(f, testParams(), 0)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, encoded, password string) {
		stored, err := decodeHash(encoded)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("decodeHash(%q) = %v, not ErrMalformedHash", encoded, err)
			}
			ok, needsRehash, verr := h.Verify(ctx, encoded, password)
			if !errors.Is(verr, ErrMalformedHash) || ok || needsRehash {
				t.Fatalf("Verify(%q) = %v, %v, %v; want false, false, ErrMalformedHash", encoded, ok, needsRehash, verr)
			}
			return
		}

		// Whatever is accepted must be the one canonical encoding of what
		// was parsed, and within bounds: anything else is a malformed input
		// that got through.
		if got := stored.String(); got != encoded {
			t.Fatalf("decodeHash accepted %q, whose canonical form is %q", encoded, got)
		}
		if err := stored.params.Validate(); err != nil {
			t.Fatalf("decodeHash accepted %q with params out of bounds: %v", encoded, err)
		}

		// Deriving at the largest accepted parameters would spend seconds
		// and a gibibyte per input, so only cheap ones go through Verify.
		p := stored.params
		if p.Memory > 1024 || p.Iterations > 3 {
			return
		}
		ok, _, err := h.Verify(ctx, encoded, password)
		if err != nil {
			t.Fatalf("Verify(%q) = %v after decodeHash accepted it", encoded, err)
		}
		key := argon2.IDKey([]byte(password), stored.salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
		if want := subtle.ConstantTimeCompare(key, stored.key) == 1; ok != want {
			t.Fatalf("Verify(%q, %q) = %v, want %v", encoded, password, ok, want)
		}
	})
}
