package detect

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// The rules, by the names the configuration uses (docs/detection.md).
const (
	// RuleSessionNetworks: one session used from Threshold or more IP
	// networks of one address family within Window.
	RuleSessionNetworks = "session_networks"
	// RuleImpossibleTravel: two uses of one user's sessions farther apart
	// than a traveller could go: faster than Threshold km/h.
	RuleImpossibleTravel = "impossible_travel"
	// RuleDeviceChange: one session used from Threshold or more devices
	// (browser or client family + OS family) within Window.
	RuleDeviceChange = "device_change"
	// RuleSessionBurst: Threshold or more sessions created for one user
	// within Window.
	RuleSessionBurst = "session_burst"
	// RuleTokenBurst: Threshold or more tokens issued for one user (or,
	// without a user, one client) within Window.
	RuleTokenBurst = "token_burst"
	// RuleRefreshRate: Threshold or more refreshes of one session's
	// family within Window.
	RuleRefreshRate = "refresh_rate"
	// RuleRefreshReuse: a rotated refresh token presented again (RFC 9700
	// §4.14.2); the family is already revoked by the grant.
	RuleRefreshReuse = "refresh_reuse"
	// RuleRevokedTokenReuse: a revoked or expired session's credential
	// presented Threshold or more times within Window. The first refusal
	// is how an honest browser learns its cookie is dead (the refusal
	// clears it); the holder who presents it again kept a copy. An
	// expired session is most often its own user coming back: its
	// firings are logged, never more.
	RuleRevokedTokenReuse = "revoked_token_reuse"
	// RuleLoginFailuresAccount: Threshold or more failed logins for one
	// account within Window.
	RuleLoginFailuresAccount = "login_failures_account"
	// RuleLoginFailuresIP: Threshold or more failed logins from one IP
	// network within Window.
	RuleLoginFailuresIP = "login_failures_ip"
	// RuleCredentialStuffing: failed logins for Threshold or more
	// accounts from one IP network within Window.
	RuleCredentialStuffing = "credential_stuffing"
	// RuleUnusualActivity: a session used from a network and at an hour
	// of the day its user was not seen at before, once the user has a
	// history of at least Threshold hours first seen a day or more ago.
	RuleUnusualActivity = "unusual_activity"
)

// Rule is one rule's policy.
type Rule struct {
	Enabled bool
	Action  Action
	// Threshold and Window mean what the rule's constant says.
	Threshold int64
	Window    time.Duration
}

// Policy is every rule's policy and what the rules share.
type Policy struct {
	Rules map[string]Rule
	// IPv4Prefix and IPv6Prefix make an address's network: addresses in
	// one /24 (IPv4) or /48 (IPv6) are one network by default, so a
	// phone moving inside its carrier's block is not a new network.
	IPv4Prefix, IPv6Prefix int
	// TravelMinKM: impossible_travel ignores moves shorter than this, or
	// than the two locations' accuracy radii together, whichever is more.
	TravelMinKM float64
}

// subject is what a rule's firing concerns, which bounds its actions.
type subject int

const (
	subjectNone    subject = iota // an address or a client: log, alert
	subjectNamed                  // a user anyone can name (failed logins need only the username): log, alert
	subjectUser                   // a user: also revoke_user
	subjectSession                // a live session in use: every action
)

// ruleDef is a rule: its name, what it concerns and its default policy.
type ruleDef struct {
	name string
	subj subject
	def  Rule
}

var rules = []ruleDef{
	{RuleSessionNetworks, subjectSession, Rule{true, ActionAlert, 4, time.Hour}},
	{RuleImpossibleTravel, subjectSession, Rule{true, ActionAlert, 900, 24 * time.Hour}},
	{RuleDeviceChange, subjectSession, Rule{true, ActionRevokeSession, 2, 24 * time.Hour}},
	{RuleSessionBurst, subjectUser, Rule{true, ActionAlert, 10, 10 * time.Minute}},
	{RuleTokenBurst, subjectNone, Rule{true, ActionAlert, 100, 10 * time.Minute}},
	{RuleRefreshRate, subjectSession, Rule{true, ActionAlert, 30, time.Hour}},
	{RuleRefreshReuse, subjectUser, Rule{true, ActionAlert, 1, 24 * time.Hour}},
	{RuleRevokedTokenReuse, subjectUser, Rule{true, ActionAlert, 2, time.Hour}},
	{RuleLoginFailuresAccount, subjectNamed, Rule{true, ActionAlert, 20, 15 * time.Minute}},
	{RuleLoginFailuresIP, subjectNone, Rule{true, ActionAlert, 50, 15 * time.Minute}},
	{RuleCredentialStuffing, subjectNone, Rule{true, ActionAlert, 10, time.Hour}},
	{RuleUnusualActivity, subjectSession, Rule{true, ActionLog, 3, 30 * 24 * time.Hour}},
}

// Rules returns the names of every rule, in the order of the issue that
// introduced them.
func Rules() []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.name
	}
	return out
}

// DefaultPolicy is the policy an unconfigured server runs: every
// firing is logged; theft signals raise alerts; a session used from
// another network by another device is revoked. Honest traffic — one
// user on several devices (one session each), a phone changing
// addresses in its network, a browser updating — fires nothing
// (docs/detection.md).
func DefaultPolicy() Policy {
	p := Policy{Rules: map[string]Rule{}, IPv4Prefix: 24, IPv6Prefix: 48, TravelMinKM: 100}
	for _, r := range rules {
		p.Rules[r.name] = r.def
	}
	return p
}

var actionRank = map[Action]int{ActionLog: 0, ActionAlert: 1, ActionStepUp: 2, ActionRevokeSession: 3, ActionRevokeUser: 4}

// Valid reports whether a is one of the actions.
func (a Action) Valid() bool { _, ok := actionRank[a]; return ok }

// Validate reports every problem with p: unknown rules and actions, an
// action the rule's subject cannot take (a login storm from a network
// has no session to revoke), and thresholds and windows out of range.
func (p Policy) Validate() error {
	var errs []error
	for name, r := range p.Rules {
		i := slices.IndexFunc(rules, func(d ruleDef) bool { return d.name == name })
		if i < 0 {
			errs = append(errs, fmt.Errorf("detection: unknown rule %q", name))
			continue
		}
		if !r.Action.Valid() {
			errs = append(errs, fmt.Errorf("detection: rule %s: unknown action %q", name, r.Action))
			continue
		}
		switch s := rules[i].subj; {
		case s == subjectNone && actionRank[r.Action] > actionRank[ActionAlert]:
			errs = append(errs, fmt.Errorf("detection: rule %s concerns no user or session: action must be log or alert", name))
		case s == subjectNamed && actionRank[r.Action] > actionRank[ActionAlert]:
			// Revoking on what anyone can cause is a denial of service
			// of the victim, not a containment.
			errs = append(errs, fmt.Errorf("detection: rule %s can be set off by anyone who knows a username: action must be log or alert", name))
		case s == subjectUser && (r.Action == ActionStepUp || r.Action == ActionRevokeSession):
			errs = append(errs, fmt.Errorf("detection: rule %s concerns no live session: action must be log, alert or revoke_user", name))
		}
		if r.Enabled && (r.Threshold < 1 || r.Window <= 0) {
			errs = append(errs, fmt.Errorf("detection: rule %s: threshold must be at least 1 and window positive", name))
		}
	}
	if p.IPv4Prefix < 8 || p.IPv4Prefix > 32 {
		errs = append(errs, errors.New("detection: ipv4_prefix must be 8 to 32"))
	}
	if p.IPv6Prefix < 16 || p.IPv6Prefix > 128 {
		errs = append(errs, errors.New("detection: ipv6_prefix must be 16 to 128"))
	}
	if p.TravelMinKM < 0 {
		errs = append(errs, errors.New("detection: travel_min_km must not be negative"))
	}
	return errors.Join(errs...)
}

// rule returns the policy of the named rule if it is enabled.
func (p Policy) rule(name string) (Rule, bool) {
	r, ok := p.Rules[name]
	return r, ok && r.Enabled
}
