// Package mfa owns second factors: TOTP (RFC 6238, with pquerna/otp) with
// replay refusal across nodes, single-use recovery codes, the methods a
// login may ask for, and the assurance a set of proven methods reaches
// (RFC 8176 amr values, NIST SP 800-63B AAL). It returns values and
// sentinel errors; authflow's login state machine and step-up use it,
// and the WebAuthn factor plugs in beside it (see Method and Proof).
package mfa
