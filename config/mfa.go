package config

import (
	"slices"
	"time"
)

// MFAPolicy governs second factors and step-up (docs/mfa.md).
type MFAPolicy struct {
	// Mode is optional (users choose to enroll a second factor) or
	// required (every login must pass one; a user without one gets a
	// session that may only enroll). Default optional. Tessera has no
	// administrator accounts (the admin API has its own credential), so
	// there is no "required for admins" mode.
	Mode string `yaml:"mode"`
	// Methods are the second-factor methods allowed at login and
	// step-up: totp, recovery_code. Default both.
	Methods []string `yaml:"methods"`
	// RecentAuth is how long after authenticating a session may change
	// the password, add or remove a factor, or see or regenerate recovery
	// codes without a step-up (POST /v1/reauth). Default 10m.
	RecentAuth Duration `yaml:"recent_auth"`
	// ChallengeTTL is an mfa_token's lifetime. Default 5m.
	ChallengeTTL Duration `yaml:"challenge_ttl"`
	// ChallengeAttempts is how many second-factor attempts an mfa_token
	// allows before it dies. Default 5.
	ChallengeAttempts int `yaml:"challenge_attempts"`
	// PerUserBurst failed second-factor attempts for one user (all
	// addresses, all challenges) before throttling. Default 10.
	PerUserBurst int `yaml:"per_user_burst"`
	// PerUserRefill is the time to regain one. Default 1m.
	PerUserRefill Duration `yaml:"per_user_refill"`
	// PerIPBurst failed second-factor attempts from one client IP (IPv6
	// by /64). Default 30.
	PerIPBurst int `yaml:"per_ip_burst"`
	// PerIPRefill is the time to regain one. Default 6s.
	PerIPRefill Duration `yaml:"per_ip_refill"`
	// TOTPIssuer names the account in authenticator apps (the otpauth://
	// issuer). Default Tessera.
	TOTPIssuer string `yaml:"totp_issuer"`
}

// MFA modes.
const (
	MFAOptional = "optional"
	MFARequired = "required"
)

// MFAMethods are the second-factor methods a config may allow.
var MFAMethods = []string{"totp", "recovery_code"}

func defaultMFA() MFAPolicy {
	return MFAPolicy{
		Mode:              MFAOptional,
		Methods:           slices.Clone(MFAMethods),
		RecentAuth:        Duration(10 * time.Minute),
		ChallengeTTL:      Duration(5 * time.Minute),
		ChallengeAttempts: 5,
		PerUserBurst:      10,
		PerUserRefill:     Duration(time.Minute),
		PerIPBurst:        30,
		PerIPRefill:       Duration(6 * time.Second),
		TOTPIssuer:        "Tessera",
	}
}

func (m MFAPolicy) validate(bad func(field, format string, args ...any)) {
	switch m.Mode {
	case MFAOptional, MFARequired:
	case "admins", "required_for_admins":
		bad("policy.mfa.mode", "%q: Tessera has no administrator accounts; use optional or required", m.Mode)
	default:
		bad("policy.mfa.mode", "%q is not optional or required", m.Mode)
	}
	if len(m.Methods) == 0 {
		bad("policy.mfa.methods", "must allow at least one method")
	}
	for _, x := range m.Methods {
		if !slices.Contains(MFAMethods, x) {
			bad("policy.mfa.methods", "%q is not one of %v", x, MFAMethods)
		}
	}
	if m.RecentAuth < Duration(time.Minute) || m.RecentAuth > Duration(24*time.Hour) {
		bad("policy.mfa.recent_auth", "must be between 1m and 24h")
	}
	if m.ChallengeTTL < Duration(30*time.Second) || m.ChallengeTTL > Duration(30*time.Minute) {
		bad("policy.mfa.challenge_ttl", "must be between 30s and 30m")
	}
	if m.ChallengeAttempts < 1 || m.ChallengeAttempts > 20 {
		bad("policy.mfa.challenge_attempts", "must be between 1 and 20")
	}
	for name, v := range map[string]int{"per_user_burst": m.PerUserBurst, "per_ip_burst": m.PerIPBurst} {
		if v < 1 {
			bad("policy.mfa."+name, "must be at least 1")
		}
	}
	for name, v := range map[string]Duration{"per_user_refill": m.PerUserRefill, "per_ip_refill": m.PerIPRefill} {
		if v <= 0 || v > Duration(24*time.Hour) {
			bad("policy.mfa."+name, "must be positive and at most 24h")
		}
	}
	if m.TOTPIssuer == "" || len(m.TOTPIssuer) > 64 {
		bad("policy.mfa.totp_issuer", "must be 1 to 64 characters")
	}
}
