package config

import (
	"bytes"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Detection configures theft and attack detection (docs/detection.md).
// The defaults are package detect's DefaultPolicy (a test keeps them equal).
type Detection struct {
	// Enabled runs the rules (default true).
	Enabled bool `yaml:"enabled"`
	// GeoIPDatabase is a MaxMind-format city database (GeoLite2-City or
	// GeoIP2-City .mmdb) for impossible_travel; empty (the default): that
	// rule is off. Tessera downloads nothing.
	GeoIPDatabase string `yaml:"geoip_database"`
	// IPv4Prefix and IPv6Prefix group addresses into networks (default
	// 24 and 48): moves inside one network are not network changes.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// TravelMinKM: impossible_travel ignores moves shorter than this
	// (default 100), or than the two places' accuracy radii together.
	TravelMinKM int `yaml:"travel_min_km"`
	// Queue is how many events may wait for the rules (default 8192);
	// past it events are dropped and counted, never waited for.
	Queue int `yaml:"queue"`
	// Rules is each rule's policy.
	Rules DetectionRules `yaml:"rules"`
}

// DetectionRules holds one DetectionRule per rule; each field's key is
// the rule's name.
type DetectionRules struct {
	SessionNetworks      DetectionRule `yaml:"session_networks"`
	ImpossibleTravel     DetectionRule `yaml:"impossible_travel"`
	DeviceChange         DetectionRule `yaml:"device_change"`
	SessionBurst         DetectionRule `yaml:"session_burst"`
	TokenBurst           DetectionRule `yaml:"token_burst"`
	RefreshRate          DetectionRule `yaml:"refresh_rate"`
	RefreshReuse         DetectionRule `yaml:"refresh_reuse"`
	RevokedTokenReuse    DetectionRule `yaml:"revoked_token_reuse"`
	LoginFailuresAccount DetectionRule `yaml:"login_failures_account"`
	LoginFailuresIP      DetectionRule `yaml:"login_failures_ip"`
	CredentialStuffing   DetectionRule `yaml:"credential_stuffing"`
	UnusualActivity      DetectionRule `yaml:"unusual_activity"`
}

// DetectionRule is one rule's policy.
type DetectionRule struct {
	Enabled bool `yaml:"enabled"`
	// Action is log, alert, step_up, revoke_session or revoke_user.
	Action string `yaml:"action"`
	// Threshold and Window: what the rule counts, and over how long
	// (docs/detection.md says per rule).
	Threshold int      `yaml:"threshold"`
	Window    Duration `yaml:"window"`
}

// maxDetectionQueue bounds detection.queue: a million waiting events is
// far more than the workers could judge before they are stale.
const maxDetectionQueue = 1 << 20

// maxDetectionWindow bounds a rule's window: a year.
const maxDetectionWindow = Duration(365 * 24 * time.Hour)

// DetectionActions are the actions a rule may take, mildest first.
var DetectionActions = []string{"log", "alert", "step_up", "revoke_session", "revoke_user"}

// DefaultDetection is detection's default configuration.
func DefaultDetection() Detection {
	rule := func(action string, threshold int, window time.Duration) DetectionRule {
		return DetectionRule{Enabled: true, Action: action, Threshold: threshold, Window: Duration(window)}
	}
	return Detection{
		Enabled: true, IPv4Prefix: 24, IPv6Prefix: 48, TravelMinKM: 100,
		Rules: DetectionRules{
			SessionNetworks:      rule("alert", 4, time.Hour),
			ImpossibleTravel:     rule("alert", 900, 24*time.Hour),
			DeviceChange:         rule("revoke_session", 2, 24*time.Hour),
			SessionBurst:         rule("alert", 10, 10*time.Minute),
			TokenBurst:           rule("alert", 100, 10*time.Minute),
			RefreshRate:          rule("alert", 30, time.Hour),
			RefreshReuse:         rule("alert", 1, 24*time.Hour),
			RevokedTokenReuse:    rule("alert", 2, time.Hour),
			LoginFailuresAccount: rule("alert", 20, 15*time.Minute),
			LoginFailuresIP:      rule("alert", 50, 15*time.Minute),
			CredentialStuffing:   rule("alert", 10, time.Hour),
			UnusualActivity:      rule("log", 3, 30*24*time.Hour),
		},
	}
}

// YAML renders d as the detection section, for `tessera policy show`:
// the rules are policy as much as the lifetimes are.
func (d Detection) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(struct {
		Detection Detection `yaml:"detection"`
	}{d}); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// Each calls fn with every rule's name and policy, in declaration order.
func (r DetectionRules) Each(fn func(name string, rule DetectionRule)) {
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		fn(name, v.Field(i).Interface().(DetectionRule))
	}
}

func (d Detection) validate(bad func(field, format string, args ...any)) {
	if d.IPv4Prefix < 8 || d.IPv4Prefix > 32 {
		bad("detection.ipv4_prefix", "must be 8 to 32")
	}
	if d.IPv6Prefix < 16 || d.IPv6Prefix > 128 {
		bad("detection.ipv6_prefix", "must be 16 to 128")
	}
	if d.TravelMinKM < 0 {
		bad("detection.travel_min_km", "must not be negative")
	}
	if d.Queue < 0 || d.Queue > maxDetectionQueue {
		// The queue is allocated up front: a huge value would exhaust
		// memory at startup, or panic making the channels.
		bad("detection.queue", "must be between 0 (the default, 8192) and %d", maxDetectionQueue)
	}
	d.Rules.Each(func(name string, r DetectionRule) {
		field := "detection.rules." + name
		known := false
		for _, a := range DetectionActions {
			known = known || r.Action == a
		}
		if !known {
			bad(field+".action", "%q is not one of %s", r.Action, strings.Join(DetectionActions, ", "))
		}
		if r.Enabled && (r.Threshold < 1 || r.Window <= 0) {
			bad(field, "threshold must be at least 1 and window positive")
		}
		if r.Window > maxDetectionWindow {
			// The state keeps what a rule counts for its window: a
			// mistyped unit (2000000h) would keep it for centuries.
			bad(field+".window", "must be at most %s", time.Duration(maxDetectionWindow))
		}
	})
}
