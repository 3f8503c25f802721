package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateDetection(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*Detection)
		want   string
	}{
		"unknown action":     {func(d *Detection) { d.Rules.DeviceChange.Action = "explode" }, "detection.rules.device_change.action"},
		"zero threshold":     {func(d *Detection) { d.Rules.SessionBurst.Threshold = 0 }, "detection.rules.session_burst"},
		"zero window":        {func(d *Detection) { d.Rules.RefreshRate.Window = 0 }, "detection.rules.refresh_rate"},
		"ipv4 prefix":        {func(d *Detection) { d.IPv4Prefix = 33 }, "detection.ipv4_prefix"},
		"ipv6 prefix":        {func(d *Detection) { d.IPv6Prefix = 8 }, "detection.ipv6_prefix"},
		"huge window":        {func(d *Detection) { d.Rules.UnusualActivity.Window = Duration(2000000 * time.Hour) }, "detection.rules.unusual_activity.window"},
		"negative queue":     {func(d *Detection) { d.Queue = -1 }, "detection.queue"},
		"huge queue":         {func(d *Detection) { d.Queue = 1 << 40 }, "detection.queue"},
		"negative km":        {func(d *Detection) { d.TravelMinKM = -1 }, "detection.travel_min_km"},
		"negative threshold": {func(d *Detection) { d.Rules.TokenBurst.Threshold = -5 }, "detection.rules.token_burst"},
		"negative window":    {func(d *Detection) { d.Rules.TokenBurst.Window = -1 }, "detection.rules.token_burst"},
		"empty action":       {func(d *Detection) { d.Rules.TokenBurst.Action = "" }, "detection.rules.token_burst.action"},
		"action case":        {func(d *Detection) { d.Rules.TokenBurst.Action = "Revoke_User" }, "detection.rules.token_burst.action"},
	} {
		c := Default()
		tc.mutate(&c.Detection)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
	// A disabled rule's threshold does not matter.
	c := Default()
	c.Detection.Rules.SessionBurst = DetectionRule{Action: "log"}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestDetectionUnknownRuleIsRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("detection:\n  rules:\n    gut_feeling:\n      enabled: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadSources(p, nil); err == nil || !strings.Contains(err.Error(), "gut_feeling") {
		t.Fatalf("err = %v, want the unknown rule named", err)
	}
}
