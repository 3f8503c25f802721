package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Alerts configures how alerts are kept and how their webhooks are
// retried (docs/webhooks.md).
type Alerts struct {
	// Retention deletes alerts, finished deliveries and delivery log
	// entries older than this (default 2160h: 90 days; 0: keep forever).
	// A delivery still pending is kept, with its alert.
	Retention Duration `yaml:"retention"`
	// MaxAttempts: a webhook delivery is given up on (failed) after this
	// many failed attempts (default 15).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxAge: a delivery is given up on when its next retry would fall
	// this long after the alert (default 24h).
	MaxAge Duration `yaml:"max_age"`
	// MinBackoff is the wait after the first failed attempt, doubled after
	// each further one up to MaxBackoff, each wait jittered to between
	// half and all of it (defaults 5s and 1h).
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
}

// DefaultAlerts are the alert defaults.
func DefaultAlerts() Alerts {
	return Alerts{Retention: Duration(90 * 24 * time.Hour), MaxAttempts: 15, MaxAge: Duration(24 * time.Hour),
		MinBackoff: Duration(5 * time.Second), MaxBackoff: Duration(time.Hour)}
}

// Webhook is one receiver of alerts, signed as Standard Webhooks. YAML
// only (no TESSERA_* variable).
type Webhook struct {
	// Name identifies it in the outbox, the delivery log and the logs
	// (never the URL): letters, digits, '-' and '_'. Required, unique.
	Name string `yaml:"name"`
	// URL receives a POST per alert; https, or http to a loopback host.
	URL string `yaml:"url"`
	// Secret is the signing secret, whsec_ and the base64 of 24 to 64
	// random bytes; or SecretFile, a file holding it (a relative path is
	// in the data folder). One of the two.
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	// MinSeverity is the lowest severity sent: low, medium or high
	// (default low: every alert).
	MinSeverity string `yaml:"min_severity"`
	// Rules, if not empty, are the only rules sent.
	Rules []string `yaml:"rules"`
	// Timeout bounds one attempt (default 10s when 0; at most 60s).
	Timeout Duration `yaml:"timeout"`
}

// MarshalYAML renders w with its secret redacted, so `tessera config
// show` cannot print it; so is a credential its URL may carry: the
// password of its userinfo and its query (receivers often take a token
// there), which is replaced whole.
func (w Webhook) MarshalYAML() (any, error) {
	type plain Webhook
	if w.Secret != "" {
		w.Secret = Redacted
	}
	w.URL = RedactURL(w.URL)
	if u, err := url.Parse(w.URL); err == nil && u.RawQuery != "" {
		u.RawQuery = Redacted
		w.URL = u.String()
	}
	return plain(w), nil
}

var webhookName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func validateWebhooks(ws []Webhook, a Alerts, bad func(field, format string, args ...any)) {
	names := map[string]bool{}
	for i, w := range ws {
		field := fmt.Sprintf("webhooks[%d]", i)
		if !webhookName.MatchString(w.Name) {
			bad(field+".name", "must be 1 to 64 letters, digits, '-' or '_'")
		} else if names[w.Name] {
			bad(field+".name", "%q is used twice", w.Name)
		}
		names[w.Name] = true
		// The URL may hold a credential: described, never quoted.
		u, err := url.Parse(w.URL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			bad(field+".url", "want https://host/path")
		case u.Scheme == "http" && !loopback(u.Hostname()):
			// The body names users and sessions: not in the clear over a
			// network (Standard Webhooks, "Enforcing HTTPS").
			bad(field+".url", "must be https (http only to a loopback host)")
		}
		if (w.Secret == "") == (w.SecretFile == "") {
			bad(field+".secret", "set secret or secret_file (one of them)")
		} else if w.Secret != "" && !webhookSecret(w.Secret) {
			// Described, never quoted: it is the signing key.
			bad(field+".secret", "must be whsec_ and the base64 of 24 to 64 random bytes")
		}
		for _, r := range w.Rules {
			if !slices.Contains(detectionRuleNames(), r) {
				// A misspelt name would filter out every alert, silently.
				bad(field+".rules", "%q is not a detection rule (detection.rules lists them)", r)
			}
		}
		switch w.MinSeverity {
		case "", "low", "medium", "high":
		default:
			bad(field+".min_severity", "%q is not low, medium or high", w.MinSeverity)
		}
		if w.Timeout < 0 || w.Timeout > Duration(time.Minute) {
			bad(field+".timeout", "must be between 0 (10s) and 1m")
		}
	}
	if a.Retention < 0 {
		bad("alerts.retention", "must be 0 (keep forever) or more")
	}
	if a.MaxAttempts < 1 || a.MaxAttempts > 100 {
		bad("alerts.max_attempts", "must be between 1 and 100")
	}
	if a.MaxAge < Duration(time.Minute) {
		bad("alerts.max_age", "must be at least 1m")
	}
	if a.MinBackoff < Duration(10*time.Millisecond) || a.MaxBackoff < a.MinBackoff {
		bad("alerts.min_backoff/max_backoff", "min_backoff must be at least 10ms and max_backoff at least min_backoff")
	}
}

// webhookSecret reports whether s is a Standard Webhooks symmetric secret
// as alert.ParseSecret reads it (the spec's "at least 24 bytes, 512 bits
// maximum"), so `tessera config validate` refuses what serve would.
func webhookSecret(s string) bool {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), "whsec_")
	if !ok {
		return false
	}
	k, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && len(k) >= 24 && len(k) <= 64
}

// detectionRuleNames are the rules' names: the keys of DetectionRules.
func detectionRuleNames() []string {
	t := reflect.TypeFor[DetectionRules]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		names = append(names, name)
	}
	return names
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
