package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/detect"
)

// Webhook is one configured receiver of alerts.
type Webhook struct {
	// Name identifies the webhook in the outbox and the delivery log
	// (never the URL, which may carry a credential).
	Name string
	URL  string
	// Secret is the HMAC key: the bytes a whsec_ secret encodes
	// (ParseSecret).
	Secret Secret
	// MinSeverity is the lowest severity sent; "" sends every one.
	MinSeverity string
	// Rules, if not empty, are the only rules sent.
	Rules []string
	// Timeout bounds one attempt (0: DefaultTimeout).
	Timeout time.Duration
}

// LogValue names the webhook by its name only: the URL may hold a
// credential.
func (w Webhook) LogValue() slog.Value { return slog.StringValue(w.Name) }

// Wants reports whether the webhook takes a.
func (w Webhook) Wants(a detect.Alert) bool {
	if len(w.Rules) > 0 && !slices.Contains(w.Rules, a.Rule) {
		return false
	}
	return severityRank(a.Severity) >= severityRank(w.MinSeverity)
}

// severityRank orders severities; an unknown one ranks as high, so a
// filter never drops what it does not understand.
func severityRank(s string) int {
	switch s {
	case "", detect.SeverityLow:
		return 0
	case detect.SeverityMedium:
		return 1
	default:
		return 2
	}
}

// Secret is a webhook signing key. It never prints, logs or marshals.
type Secret []byte

// MarshalText keeps the key out of JSON and every text encoding.
func (Secret) MarshalText() ([]byte, error) { return []byte("[secret]"), nil }

func (Secret) String() string       { return "[secret]" }
func (Secret) GoString() string     { return "[secret]" }
func (Secret) LogValue() slog.Value { return slog.StringValue("[secret]") }

// SecretPrefix starts a serialized symmetric Standard Webhooks secret.
const SecretPrefix = "whsec_"

// ErrSecret means a webhook secret is not a whsec_ secret of the right
// length.
var ErrSecret = errors.New("alert: webhook secret must be whsec_ followed by base64 of 24 to 64 random bytes")

// ParseSecret decodes a Standard Webhooks symmetric secret: "whsec_" and
// the standard base64 of 24 to 64 random bytes (the spec's "at least 24
// bytes, 512 bits maximum"). The error never quotes s.
func ParseSecret(s string) (Secret, error) {
	b64, ok := strings.CutPrefix(strings.TrimSpace(s), SecretPrefix)
	if !ok {
		return nil, ErrSecret
	}
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) < 24 || len(k) > 64 {
		return nil, ErrSecret
	}
	return Secret(k), nil
}

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Sign returns the webhook-signature value for message id sent at
// timestamp with body: "v1," and the base64 of HMAC-SHA256(key,
// id.timestamp.body) (Standard Webhooks, "Signature scheme").
func Sign(key Secret, id string, timestamp time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, timestamp.Unix())
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Headers are the headers of one attempt to send body as message id at
// time at: the Standard Webhooks three and the content type.
func Headers(key Secret, id string, at time.Time, body []byte) map[string]string {
	return map[string]string{
		HeaderID:        id,
		HeaderTimestamp: strconv.FormatInt(at.Unix(), 10),
		HeaderSignature: Sign(key, id, at, body),
		"Content-Type":  "application/json",
	}
}
