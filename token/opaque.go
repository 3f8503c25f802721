package token

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
)

// Kind is the type of an opaque token. Its prefix is part of the token so a
// leaked token says what it is, and so a token of one kind is never accepted
// where another is expected.
type Kind uint8

// The kinds of opaque token. Their prefixes are stable wire format: scanners
// and users' deny rules depend on them.
const (
	Session      Kind = iota + 1 // tss_: a browser or API session
	Refresh                      // tsr_: an OAuth 2.0 refresh token
	Access                       // tsa_: an opaque access token
	MFA                          // tsm_: a pending second-factor challenge
	ClientSecret                 // tsc_: an OAuth 2.0 client secret
	Admin                        // tsx_: the admin API credential
)

var prefixes = [...]string{
	Session:      "tss_",
	Refresh:      "tsr_",
	Access:       "tsa_",
	MFA:          "tsm_",
	ClientSecret: "tsc_",
	Admin:        "tsx_",
}

// Prefix returns the kind's prefix, such as "tss_".
func (k Kind) Prefix() string {
	if int(k) >= len(prefixes) || k == 0 {
		return ""
	}
	return prefixes[k]
}

func (k Kind) String() string {
	switch k {
	case Session:
		return "session"
	case Refresh:
		return "refresh"
	case Access:
		return "access"
	case MFA:
		return "mfa"
	case ClientSecret:
		return "client_secret"
	case Admin:
		return "admin"
	case JWT:
		return "jwt"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

const (
	alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// bodyLen base62 characters carry 43*log2(62) = 256.03 bits.
	bodyLen     = 43
	checksumLen = 6 // 62^6 > 2^32: any CRC32 fits
	prefixLen   = 4
	// Len is the length of every opaque token.
	Len = prefixLen + bodyLen + checksumLen
)

// Errors returned by Parse. Callers branch on them only to pick a log line;
// to a client every one of them is just an invalid token.
var (
	ErrMalformed = errors.New("token: malformed")
	ErrKind      = errors.New("token: wrong kind")
	ErrChecksum  = errors.New("token: checksum mismatch")
)

// Hash is the SHA-256 of a token's full text. Only hashes are ever stored,
// so a copy of the database grants nothing.
type Hash [sha256.Size]byte

// Token is a parsed opaque token. It redacts itself in fmt and slog output so
// a careless log line cannot leak it; call Reveal to get the secret text.
type Token struct {
	kind Kind
	text string
}

// New returns a fresh token of kind k. It fails only if crypto/rand fails.
func New(k Kind) (Token, error) {
	p := k.Prefix()
	if p == "" {
		return Token{}, fmt.Errorf("token: unknown kind %d", k)
	}
	var b [Len]byte
	copy(b[:], p)
	// Rejection sampling keeps every character uniform over the alphabet:
	// 6 random bits give 0..63, and 62 and 63 are redrawn.
	var rnd [64]byte
	n := prefixLen
	for n < prefixLen+bodyLen {
		if _, err := rand.Read(rnd[:]); err != nil {
			return Token{}, fmt.Errorf("token: reading randomness: %w", err)
		}
		for _, r := range rnd {
			if v := r & 63; v < 62 && n < prefixLen+bodyLen {
				b[n] = alphabet[v]
				n++
			}
		}
	}
	putChecksum(b[prefixLen+bodyLen:], crc32.ChecksumIEEE(b[:prefixLen+bodyLen]))
	return Token{kind: k, text: string(b[:])}, nil
}

// Parse checks that s is a well-formed token of kind want, including its
// checksum, without touching any store. The checksum is not a secret and
// guards only against typos and truncation; it may be compared in variable time.
func Parse(want Kind, s string) (Token, error) {
	if len(s) != Len {
		return Token{}, ErrMalformed
	}
	p := want.Prefix()
	if p == "" {
		return Token{}, ErrKind
	}
	if s[:prefixLen] != p {
		if isKnownPrefix(s[:prefixLen]) {
			return Token{}, ErrKind
		}
		return Token{}, ErrMalformed
	}
	for i := prefixLen; i < Len; i++ {
		if !isBase62(s[i]) {
			return Token{}, ErrMalformed
		}
	}
	var sum [checksumLen]byte
	putChecksum(sum[:], crc32.ChecksumIEEE([]byte(s[:prefixLen+bodyLen])))
	if string(sum[:]) != s[prefixLen+bodyLen:] {
		return Token{}, ErrChecksum
	}
	return Token{kind: want, text: s}, nil
}

// HashOf returns the SHA-256 of s. Use it only on text that Parse accepted.
func HashOf(s string) Hash { return sha256.Sum256([]byte(s)) }

// Kind returns the token's kind.
func (t Token) Kind() Kind { return t.kind }

// Hash returns the SHA-256 of the token's text, the only form ever stored.
func (t Token) Hash() Hash { return HashOf(t.text) }

// Reveal returns the secret text of the token, for delivery to its holder.
func (t Token) Reveal() string { return t.text }

// IsZero reports whether t is the zero Token.
func (t Token) IsZero() bool { return t.text == "" }

// String redacts the token, keeping only its prefix.
func (t Token) String() string {
	if t.text == "" {
		return ""
	}
	return t.kind.Prefix() + "REDACTED"
}

// GoString redacts the token, so %#v cannot leak it either.
func (t Token) GoString() string { return t.String() }

// LogValue redacts the token in slog output.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

func isKnownPrefix(p string) bool {
	for _, q := range prefixes[1:] {
		if p == q {
			return true
		}
	}
	return false
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

func putChecksum(dst []byte, v uint32) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = alphabet[v%62]
		v /= 62
	}
}
