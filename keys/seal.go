package keys

import (
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// sealJWE encrypts plain as a compact JWE (alg dir, enc A256GCM) under
// key. id sits in the authenticated protected header as "kid", so a
// sealed value cannot be moved to another record unnoticed (openJWE
// checks it).
func sealJWE(key []byte, id, cty string, plain []byte) (string, error) {
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: key},
		(&jose.EncrypterOptions{}).WithHeader("kid", id).WithContentType(jose.ContentType(cty)))
	if err != nil {
		return "", fmt.Errorf("keys: seal: %w", err)
	}
	obj, err := enc.Encrypt(plain)
	if err != nil {
		return "", fmt.Errorf("keys: seal: %w", err)
	}
	return obj.CompactSerialize()
}

// openJWE reverses sealJWE, refusing a value sealed for another id.
func openJWE(key []byte, id, sealed string) ([]byte, error) {
	obj, err := jose.ParseEncryptedCompact(sealed, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, fmt.Errorf("keys: open %s: %w", id, err)
	}
	if obj.Header.KeyID != id {
		return nil, fmt.Errorf("keys: open %s: sealed for another record", id)
	}
	plain, err := obj.Decrypt(key)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot open %s (was it sealed under another master key?)", ErrMasterKey, id)
	}
	return plain, nil
}

// Seal encrypts a secret at rest with the same format that seals signing
// keys (a compact JWE, dir + A256GCM), under a key derived from the
// master key for purpose, and bound to id (the record it belongs to,
// such as a user id). Open reverses it.
func (m MasterKey) Seal(purpose, id string, plain []byte) (string, error) {
	k, err := m.Derive(purpose)
	if err != nil {
		return "", err
	}
	return sealJWE(k, id, "application/octet-stream", plain)
}

// Open returns what Seal sealed for the same purpose and id; an error
// wrapping ErrMasterKey if it was sealed under another master key.
func (m MasterKey) Open(purpose, id, sealed string) ([]byte, error) {
	k, err := m.Derive(purpose)
	if err != nil {
		return nil, err
	}
	return openJWE(k, id, sealed)
}
