// Package passkey owns WebAuthn (W3C Web Authentication Level 3) for
// Tessera: registering passkeys and security keys, and verifying their
// assertions as a second factor or for a passwordless login, with
// github.com/go-webauthn/webauthn doing the protocol checks. It keeps
// ceremony state server-side (single-use, short-lived), applies the
// sign-count policy, and hands the login flow an mfa.Proof whose amr and
// AAL mfa assesses. It uses no HTTP itself (the library imports net/http
// for helpers this package does not call).
package passkey
