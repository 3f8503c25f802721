package mfa

import "slices"

// Method is a way to prove a factor, as named on the wire (the "method"
// of POST /v1/login/mfa and /v1/reauth, the "methods" of an MFA
// challenge).
type Method string

// The methods. WebAuthn is verified by its own ceremony (the WebAuthn
// package), which hands the login state machine a Proof of this method.
const (
	Password     Method = "password"
	TOTP         Method = "totp"
	RecoveryCode Method = "recovery_code"
	WebAuthn     Method = "webauthn"
)

// RFC 8176 §2 authentication method reference values Tessera emits.
const (
	AMRPassword = "pwd"  // password
	AMROTP      = "otp"  // one-time password: TOTP, and recovery codes (single-use look-up secrets)
	AMRMFA      = "mfa"  // more than one factor category was proven
	AMRHardware = "hwk"  // proof of possession of a hardware-secured key (WebAuthn, not exportable)
	AMRSoftware = "swk"  // proof of possession of a software-secured key (a synced passkey)
	AMRUser     = "user" // user presence test; Tessera sends it when the authenticator also verified the user (WebAuthn UV)
)

// Proof is what one verified credential contributes to an
// authentication: the RFC 8176 values it stands for.
type Proof struct {
	Method Method
	AMR    []string
}

// category is a NIST SP 800-63B factor kind: something you know, have,
// or (verified locally by an authenticator) are or know.
type category uint8

const (
	know category = 1 << iota
	have
	verified
)

// categories maps the amr values Tessera understands to factor kinds.
// "user" counts only as the user verification of a key held in an
// authenticator (WebAuthn with the UV flag): a second factor checked by
// the device itself.
var categories = map[string]category{
	AMRPassword: know, "pin": know, "kba": know,
	AMROTP: have, AMRHardware: have, AMRSoftware: have, "sms": have, "tel": have, "sc": have,
	"fpt": verified, "face": verified, "iris": verified, "retina": verified, "vbm": verified,
	AMRUser: verified,
}

// Assess returns the amr of an authentication that proved amr (deduplicated,
// in order, with "mfa" added when two factor kinds were proven and only
// then) and its NIST SP 800-63B authenticator assurance level:
//
//   - AAL1: one factor (a password);
//   - AAL2: two factor kinds (password + TOTP or recovery code, a passkey
//     with user verification);
//   - AAL3: two factor kinds, one of them a hardware-bound key (hwk): a
//     security key with user verification, or password + security key.
func Assess(amr []string) ([]string, int) {
	out := make([]string, 0, len(amr)+1)
	var cats category
	for _, v := range amr {
		if v == AMRMFA || slices.Contains(out, v) {
			continue
		}
		out = append(out, v)
		cats |= categories[v]
	}
	if cats&verified != 0 && cats&have == 0 {
		cats &^= verified // "user" without a key in an authenticator proves nothing
	}
	n := 0
	for c := cats; c != 0; c &= c - 1 {
		n++
	}
	switch {
	case n >= 2 && slices.Contains(out, AMRHardware):
		return append(out, AMRMFA), 3
	case n >= 2:
		return append(out, AMRMFA), 2
	}
	return out, 1
}

// Merge returns the assessment of what was proven before (a session's
// amr) together with proofs: step-up adds to a session, never takes away.
func Merge(prior []string, proofs ...Proof) ([]string, int) {
	all := slices.Clone(prior)
	for _, p := range proofs {
		all = append(all, p.AMR...)
	}
	return Assess(all)
}

// ACR is the "acr" claim value of an assurance level: "aal1", "aal2" or
// "aal3" (RFC 9470 acr_values carry the same strings).
func ACR(aal int) string {
	switch aal {
	case 1, 2, 3:
		return "aal" + string(rune('0'+aal))
	}
	return ""
}

// AALOfACR parses an ACR value back; 0 if it is none of them.
func AALOfACR(acr string) int {
	switch acr {
	case "aal1":
		return 1
	case "aal2":
		return 2
	case "aal3":
		return 3
	}
	return 0
}
