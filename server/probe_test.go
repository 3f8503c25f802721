package server

import (
	"net/url"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/probe"
	"github.com/tessera-auth/tessera/session"
)

// TestBearerProbingThrottled (issue 10, L4): an address presenting invalid
// bearer tokens gets 401 until its budget is spent, then 429 with
// Retry-After (problem+json) for any bearer token, valid or not, until the
// bucket refills; valid tokens cost nothing, other addresses are not
// affected, and emptying the budget is an event.
func TestBearerProbingThrottled(t *testing.T) {
	e := newEnv(t)
	rec := &eventtest.Recorder{}
	e.events.Subscribe(rec)
	e.addUser("pat", pw)
	at, _ := e.loginTokens("pat", nil)
	prober := []string{"X-Forwarded-For", "198.51.100.9", "User-Agent", "scanner/1"}
	for range 2 * probe.DefaultLimits().BearerPerIPBurst {
		if r := e.whoami(append(bearer(at), prober...)...); r.StatusCode != 200 {
			t.Fatalf("valid tokens drained the budget: %d", r.StatusCode)
		}
	}
	for i := range probe.DefaultLimits().BearerPerIPBurst {
		if r := e.whoami(append(bearer("tsa_not-a-real-token-"+string(rune('a'+i%26))), prober...)...); r.StatusCode != 401 {
			t.Fatalf("bad token %d: %d", i, r.StatusCode)
		}
	}
	r := e.whoami(append(bearer(at), prober...)...)
	wantProblem(t, r, 429, "too_many_attempts")
	if r.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if r := e.whoami(append(bearer(at), "X-Forwarded-For", "203.0.113.4")...); r.StatusCode != 200 {
		t.Fatalf("another address: %d", r.StatusCode)
	}
	ev := rec.Of(event.TokenProbeThrottled)
	if len(ev) != 1 || ev[0].Token != probe.Bearer || ev[0].IP.String() != "198.51.100.9" || ev[0].UserAgent != "scanner/1" || ev[0].RetryAfter <= 0 {
		t.Fatalf("TokenProbeThrottled: %+v", ev)
	}
	e.clock.Add(time.Second)
	if r := e.whoami(append(bearer(at), prober...)...); r.StatusCode != 200 {
		t.Fatalf("after the refill: %d", r.StatusCode)
	}
}

// TestIntrospectionProbingThrottled: a resource server whose
// introspections keep finding inactive tokens gets 429 with Retry-After,
// in RFC 6749 §5.2 JSON, while active tokens cost nothing; another client
// is not affected.
func TestIntrospectionProbingThrottled(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
	limits := probe.Limits{IntrospectPerClientBurst: 3, IntrospectPerClientRefill: time.Minute}
	e := newEnv(t, func(c *Config, _ *session.Config) { c.Probes = probe.New(limits, nil, clock.Now) })
	e.addUser("quinn", pw)
	at, _ := e.loginTokens("quinn", nil)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	otherID, otherSecret := e.addClient(map[string]any{"name": "other", "grants": []string{"client_credentials"}})
	introspect := func(tok, id, secret string) resp {
		return e.form("/oauth2/introspect", url.Values{"token": {tok}}, basic(id, secret)...)
	}
	for range 5 {
		if r := introspect(at, rsID, rsSecret); r.StatusCode != 200 || r.json(t)["active"] != true {
			t.Fatalf("active token: %d %s", r.StatusCode, r.body)
		}
	}
	for range 3 {
		if r := introspect("tsa_guess", rsID, rsSecret); r.StatusCode != 200 || r.json(t)["active"] != false {
			t.Fatalf("guess: %d %s", r.StatusCode, r.body)
		}
	}
	r := introspect(at, rsID, rsSecret)
	wantOAuthError(t, r, 429, "too_many_requests")
	if r.Header.Get("Retry-After") != "60" {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if r := introspect(at, otherID, otherSecret); r.StatusCode != 200 {
		t.Fatalf("another client: %d %s", r.StatusCode, r.body)
	}
	clock.Add(time.Minute)
	if r := introspect(at, rsID, rsSecret); r.StatusCode != 200 {
		t.Fatalf("after the refill: %d %s", r.StatusCode, r.body)
	}
}

// TestExpiredTokensAreNoProbe: expired access tokens (Tessera's own,
// signature checked first) answer 401 but never drain the probing budget:
// a wave of clients late to refresh is not a scan.
func TestExpiredTokensAreNoProbe(t *testing.T) {
	e := newEnv(t)
	e.addUser("uma", pw)
	at, _ := e.loginTokens("uma", nil)
	e.clock.Add(time.Hour) // past the 15-minute lifetime and the leeway
	for range 2 * probe.DefaultLimits().BearerPerIPBurst {
		if r := e.whoami(append(bearer(at), "X-Forwarded-For", "198.51.100.10")...); r.StatusCode != 401 {
			t.Fatalf("expired token: %d", r.StatusCode)
		}
	}
}
