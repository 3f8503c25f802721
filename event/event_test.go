package event_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/token"
)

// secrets are raw credentials of every shape Tessera hands out.
func secrets(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, k := range []token.Kind{token.Session, token.Refresh, token.Access, token.ClientSecret, token.Admin} {
		tok, err := token.New(k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok.Reveal())
	}
	// An RFC 7519 §3.1 example JWT.
	return append(out, "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
}

// Even a field filled with a raw token by mistake does not reach a log line,
// whether the event is logged as a value or by the logging subscriber.
func TestLogValueRedactsCredentials(t *testing.T) {
	for _, raw := range secrets(t) {
		e := event.Event{Kind: event.TokenRevoked, At: time.Unix(0, 0), IP: netip.MustParseAddr("192.0.2.1"),
			UserAgent: raw, ClientID: raw, UserID: raw, SessionID: raw, JTI: raw, KID: raw, Reason: raw,
			Token: raw, Format: raw, Actor: raw, Action: raw}
		var buf bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&buf, nil))
		log.Info("event", "e", e)
		event.NewLogger(log).Publish(context.Background(), e)
		if strings.Contains(buf.String(), raw) || strings.Contains(buf.String(), raw[4:]) {
			t.Fatalf("a raw %.4s token reached the log: %s", raw, buf.String())
		}
		if !strings.Contains(buf.String(), "[redacted]") {
			t.Fatalf("no redaction marker: %s", buf.String())
		}
	}
}

func TestLogValueKeepsOrdinaryFields(t *testing.T) {
	e := event.Event{Kind: event.LoginFailed, IP: netip.MustParseAddr("2001:db8::1"), UserID: "0192-user",
		Reason: event.ReasonThrottled, RetryAfter: 3 * time.Second, UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"}
	var buf bytes.Buffer
	event.NewLogger(slog.New(slog.NewJSONHandler(&buf, nil))).Publish(context.Background(), e)
	for _, want := range []string{`"msg":"login throttled"`, `"level":"WARN"`, `"event":"login_failed"`, `"ip":"2001:db8::1"`,
		`"user_id":"0192-user"`, `"reason":"throttled"`, `"retry_after_s":3`, `"user_agent":"Mozilla/5.0 (X11; Linux x86_64)"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log line lacks %s: %s", want, buf.String())
		}
	}
}

func TestKindNames(t *testing.T) {
	seen := map[string]bool{}
	for k := event.LoginSucceeded; k <= event.AdminAction; k++ {
		n := k.String()
		if n == "unknown" || seen[n] {
			t.Errorf("kind %d has name %q", k, n)
		}
		seen[n] = true
	}
	if event.Kind(0).String() != "unknown" || event.Kind(200).String() != "unknown" {
		t.Error("out-of-range kinds must be unknown")
	}
}
