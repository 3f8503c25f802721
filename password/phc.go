package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is returned by Verify when the stored hash string cannot
// be parsed, or when the parameters it names are out of bounds.
var ErrMalformedHash = errors.New("password: malformed stored hash")

// maxEncodedLen bounds a stored hash before it is split, so that a hostile
// value costs a few hundred bytes to reject. The longest valid encoding, with
// 64-byte salt and key and the largest parameters, is 208 bytes.
const maxEncodedLen = 256

// b64 is the PHC string format's base64: standard alphabet, no padding.
// Strict rejects non-zero trailing bits, so that every hash has exactly one
// accepted spelling.
var b64 = base64.RawStdEncoding.Strict()

// phc is a decoded argon2id hash in the PHC string format.
type phc struct {
	params Params
	salt   []byte
	key    []byte
}

func (h phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.params.Memory, h.params.Iterations, h.params.Parallelism,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// malformed never quotes the stored string: it is an offline-crackable
// verifier and errors end up in logs.
func malformed(reason string) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, reason)
}

// decodeHash parses a stored hash strictly: only argon2id version 19 with
// exactly m, t and p in that order, so that needsRehash can compare
// parameters and nothing unexpected is silently ignored. The parameters are
// bounds-checked before the caller spends any memory on them.
func decodeHash(s string) (phc, error) {
	if len(s) > maxEncodedLen {
		return phc{}, malformed("longer than any valid hash")
	}
	rest, ok := strings.CutPrefix(s, "$argon2id$")
	if !ok {
		return phc{}, malformed("not an argon2id hash")
	}
	rest, ok = strings.CutPrefix(rest, "v=19$")
	if !ok {
		return phc{}, malformed("not argon2 version 19")
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 3 {
		return phc{}, malformed("want parameters, salt and hash")
	}
	var h phc
	if err := h.params.decodeMTP(fields[0]); err != nil {
		return phc{}, err
	}
	var err error
	if h.salt, err = b64.DecodeString(fields[1]); err != nil {
		return phc{}, malformed("salt is not unpadded base64")
	}
	if h.key, err = b64.DecodeString(fields[2]); err != nil {
		return phc{}, malformed("hash is not unpadded base64")
	}
	h.params.SaltLength = uint32(len(h.salt))
	h.params.KeyLength = uint32(len(h.key))
	if err := h.params.checkBounds(); err != nil {
		return phc{}, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	return h, nil
}

// decodeMTP parses "m=19456,t=2,p=1" into p.
func (p *Params) decodeMTP(s string) error {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return malformed("want exactly m, t and p parameters")
	}
	m, err := decodeParam(parts[0], "m=", 32)
	if err != nil {
		return err
	}
	t, err := decodeParam(parts[1], "t=", 32)
	if err != nil {
		return err
	}
	// Parsed at 8 bits so that p=257 is refused rather than wrapped to 1.
	par, err := decodeParam(parts[2], "p=", 8)
	if err != nil {
		return err
	}
	p.Memory, p.Iterations, p.Parallelism = uint32(m), uint32(t), uint8(par)
	return nil
}

func decodeParam(s, prefix string, bitSize int) (uint64, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, malformed("want parameter " + strings.TrimSuffix(prefix, "="))
	}
	// PHC decimals have no sign and no leading zeros; refusing them keeps
	// one spelling per hash.
	if v == "" || (len(v) > 1 && v[0] == '0') {
		return 0, malformed("parameter " + strings.TrimSuffix(prefix, "=") + " is not a canonical decimal")
	}
	n, err := strconv.ParseUint(v, 10, bitSize)
	if err != nil {
		return 0, malformed("parameter " + strings.TrimSuffix(prefix, "=") + " is not a decimal in range")
	}
	return n, nil
}
