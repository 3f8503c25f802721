package password

import "fmt"

// Params are argon2id cost parameters. Memory is in KiB.
type Params struct {
	Memory      uint32 // KiB; default 19456 (19 MiB, OWASP Password Storage Cheat Sheet)
	Iterations  uint32 // default 2
	Parallelism uint8  // default 1
	SaltLength  uint32 // bytes; default 16
	KeyLength   uint32 // bytes; default 32
}

// Bounds shared by Validate and the parser of stored hashes. The upper bounds
// are what keeps a hostile stored hash from costing more than a gibibyte and
// ten passes of work; the lower ones are RFC 9106's (8 KiB per lane, 128-bit
// salt) and a 128-bit key.
const (
	maxMemory      = 1 << 20 // KiB, 1 GiB
	minIterations  = 1
	maxIterations  = 10
	minParallelism = 1
	maxParallelism = 16
	minSaltLength  = 16
	maxSaltLength  = 64
	minKeyLength   = 16
	maxKeyLength   = 64
)

// DefaultParams returns the OWASP Password Storage Cheat Sheet's argon2id
// recommendation of m=19456 KiB, t=2, p=1, with a 128-bit salt and a 256-bit
// key.
func DefaultParams() Params {
	return Params{
		Memory:      19456,
		Iterations:  2,
		Parallelism: 1,
		SaltLength:  16,
		KeyLength:   32,
	}
}

// Validate reports whether p is within the bounds Tessera accepts:
// Memory 8*Parallelism to 1048576 KiB, Iterations 1 to 10, Parallelism 1 to
// 16, SaltLength and KeyLength 16 to 64 bytes.
func (p Params) Validate() error {
	if err := p.checkBounds(); err != nil {
		return fmt.Errorf("password: invalid params: %w", err)
	}
	return nil
}

// checkBounds is Validate without the prefix, so that a stored hash with
// parameters out of bounds can be reported as ErrMalformedHash with the same
// reason.
func (p Params) checkBounds() error {
	// Parallelism is checked first because the memory floor depends on it.
	if p.Parallelism < minParallelism || p.Parallelism > maxParallelism {
		return fmt.Errorf("argon2id parallelism %d is outside %d..%d", p.Parallelism, minParallelism, maxParallelism)
	}
	if minMemory := 8 * uint32(p.Parallelism); p.Memory < minMemory || p.Memory > maxMemory {
		return fmt.Errorf("argon2id memory %d KiB is outside %d..%d KiB (at least 8 KiB per lane, at most 1 GiB)", p.Memory, minMemory, maxMemory)
	}
	if p.Iterations < minIterations || p.Iterations > maxIterations {
		return fmt.Errorf("argon2id iterations %d is outside %d..%d", p.Iterations, minIterations, maxIterations)
	}
	if p.SaltLength < minSaltLength || p.SaltLength > maxSaltLength {
		return fmt.Errorf("argon2id salt length %d bytes is outside %d..%d", p.SaltLength, minSaltLength, maxSaltLength)
	}
	if p.KeyLength < minKeyLength || p.KeyLength > maxKeyLength {
		return fmt.Errorf("argon2id key length %d bytes is outside %d..%d", p.KeyLength, minKeyLength, maxKeyLength)
	}
	return nil
}
