package app

import (
	"time"

	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/passkey"
	"github.com/tessera-auth/tessera/store"
)

// NewMFA builds the second-factor service: TOTP secrets sealed under the
// master key, c's throttles, and pk's WebAuthn credentials as a factor
// (pk may be nil); ev receives its events (may be nil).
func NewMFA(c config.Config, st mfa.Store, master keys.MasterKey, ev event.Sink, now func() time.Time, pk *passkey.Service) *mfa.Service {
	m := c.Policy.MFA
	var factors []mfa.Factor
	if pk != nil {
		factors = append(factors, pk)
	}
	return mfa.New(st, master, mfa.Config{
		Issuer: m.TOTPIssuer, Events: ev, Now: now, Factors: factors,
		Limits: mfa.Limits{
			PerUserBurst: m.PerUserBurst, PerUserRefill: m.PerUserRefill.D(),
			PerIPBurst: m.PerIPBurst, PerIPRefill: m.PerIPRefill.D(),
		},
	})
}

// NewPasskeys builds WebAuthn from c's relying party and policy; nil
// (and no error) when no RP ID is configured or derivable from
// public_origin.
func NewPasskeys(c config.Config, st store.Store, ev event.Sink, now func() time.Time) (*passkey.Service, error) {
	rp, on := c.WebAuthn.Effective(c.PublicOrigin)
	if !on {
		return nil, nil
	}
	return passkey.New(st, st, passkey.Config{
		RPID: rp.RPID, RPName: rp.RPName, Origins: rp.Origins,
		CeremonyTTL: c.Policy.MFA.WebAuthnTimeout.D(), SignCount: passkey.SignCountPolicy(c.Policy.MFA.WebAuthnSignCount),
		Events: ev, Now: now,
	})
}

// MFAPolicy is c's second-factor policy as the login flows take it.
func MFAPolicy(c config.Config) authflow.MFAPolicy {
	m := c.Policy.MFA
	p := authflow.MFAPolicy{
		Required: m.Mode == config.MFARequired, RecentAuth: m.RecentAuth.D(),
		ChallengeTTL: m.ChallengeTTL.D(), ChallengeAttempts: m.ChallengeAttempts,
	}
	for _, x := range m.Methods {
		p.Methods = append(p.Methods, mfa.Method(x))
	}
	return p
}
