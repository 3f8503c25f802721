// Package keys owns the JWS signing keyset: key generation (ES256, EdDSA,
// RS256), sealing private keys under the master key, the next → active →
// retired rotation, and the JWKS that verifiers fetch.
package keys
