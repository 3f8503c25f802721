package app

import (
	"time"

	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/mfa"
)

// NewMFA builds the second-factor service: TOTP secrets sealed under the
// master key, c's throttles; ev receives its events (may be nil).
func NewMFA(c config.Config, st mfa.Store, master keys.MasterKey, ev event.Sink, now func() time.Time) *mfa.Service {
	m := c.Policy.MFA
	return mfa.New(st, master, mfa.Config{
		Issuer: m.TOTPIssuer, Events: ev, Now: now,
		Limits: mfa.Limits{
			PerUserBurst: m.PerUserBurst, PerUserRefill: m.PerUserRefill.D(),
			PerIPBurst: m.PerIPBurst, PerIPRefill: m.PerIPRefill.D(),
		},
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
