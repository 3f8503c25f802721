package keys

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// MasterKey is the 256-bit key that seals private signing keys at rest.
// It redacts itself in fmt and slog output.
type MasterKey struct{ k []byte }

// ErrMasterKey means the master key is missing, malformed, or not the one
// the stored keys were sealed with.
var ErrMasterKey = errors.New("keys: bad master key")

// NewMasterKey returns a fresh random master key and its text form.
func NewMasterKey() (MasterKey, string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return MasterKey{}, "", fmt.Errorf("keys: %w", err)
	}
	return MasterKey{k: b}, base64.StdEncoding.EncodeToString(b), nil
}

// ParseMasterKey reads the base64 (standard or URL alphabet, padded or not)
// text of a 32-byte key, as written by NewMasterKey or `openssl rand -base64 32`.
func ParseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return MasterKey{}, fmt.Errorf("%w: want 32 bytes, got %d", ErrMasterKey, len(b))
			}
			return MasterKey{k: b}, nil
		}
	}
	return MasterKey{}, fmt.Errorf("%w: not base64", ErrMasterKey)
}

// Derive returns a 32-byte key for one purpose (HKDF-SHA256), so the master
// key itself is used for nothing but sealing signing keys.
func (m MasterKey) Derive(purpose string) ([]byte, error) {
	return hkdf.Key(sha256.New, m.k, nil, "tessera/"+purpose, 32)
}

func (m MasterKey) String() string       { return "MasterKey(REDACTED)" }
func (m MasterKey) GoString() string     { return m.String() }
func (m MasterKey) LogValue() slog.Value { return slog.StringValue(m.String()) }
