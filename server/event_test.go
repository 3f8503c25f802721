package server

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
)

// TestEvents drives every kind of event through the HTTP API and checks
// the ones the server publishes itself, the use context a request gives
// validation, and that no event (as logged) nor the log holds a credential.
func TestEvents(t *testing.T) {
	e := newEnv(t)
	rec := &eventtest.Recorder{}
	e.events.Subscribe(rec)
	const wrong = "not the password at all"
	secrets := []string{pw, wrong, adminToken}

	uid := e.addUser("ola", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true})
	secrets = append(secrets, rsSecret)
	e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ola", "password": wrong})

	b := e.loginCookie("ola", pw)
	secrets = append(secrets, b.cookie, b.cookie[4:], b.csrf)
	if r := e.whoami(b.headers("User-Agent", "TestBrowser/1.0", "X-Forwarded-For", "203.0.113.50")...); r.StatusCode != 200 {
		t.Fatalf("whoami: %d %s", r.StatusCode, r.body)
	}
	v := rec.Of(event.SessionValidated)
	if len(v) == 0 || v[len(v)-1].IP != netip.MustParseAddr("203.0.113.50") || v[len(v)-1].UserAgent != "TestBrowser/1.0" || v[len(v)-1].UserID != uid {
		t.Fatalf("whoami's SessionValidated: %+v", v)
	}

	at, rt := e.loginTokens("ola", map[string]string{"client_id": spa})
	secrets = append(secrets, at, rt, rt[4:])
	r := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}})
	if r.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.body)
	}
	at2, rt2 := r.json(t)["access_token"].(string), r.json(t)["refresh_token"].(string)
	secrets = append(secrets, at2, rt2, rt2[4:])

	rec.Reset()
	if r := e.form("/oauth2/introspect", url.Values{"token": {at2}}, basic(rsID, rsSecret)...); r.StatusCode != 200 {
		t.Fatalf("introspect: %d", r.StatusCode)
	}
	e.form("/oauth2/introspect", url.Values{"token": {"garbage"}}, basic(rsID, rsSecret)...)
	in := rec.Of(event.Introspected)
	if len(in) != 2 || in[0].ClientID != rsID || !in[0].Active || in[0].Token != event.TokenAccess || in[0].UserID != uid || in[0].JTI == "" ||
		in[1].Active || in[1].ClientID != rsID {
		t.Fatalf("Introspected: %+v", in)
	}
	jti := in[0].JTI

	if r := e.form("/oauth2/revoke", url.Values{"token": {at2}, "client_id": {spa}}); r.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	if r := e.form("/oauth2/revoke", url.Values{"token": {rt2}, "client_id": {spa}}); r.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	tr := rec.Of(event.TokenRevoked)
	if len(tr) != 2 || tr[0].Token != event.TokenAccess || tr[0].JTI != jti || tr[0].ClientID != spa ||
		tr[1].Token != event.TokenRefresh || tr[1].SessionID == "" || tr[1].ClientID != spa {
		t.Fatalf("TokenRevoked: %+v", tr)
	}
	if sr := rec.Of(event.SessionRevoked); len(sr) != 1 || sr[0].Reason != "token_revoked" || sr[0].SessionID != tr[1].SessionID {
		t.Fatalf("the refresh family's SessionRevoked: %+v", sr)
	}

	rec.Reset()
	e.adminDo("DELETE", "/admin/v1/users/"+uid+"/sessions", nil)
	e.adminDo("POST", "/admin/v1/keys/rotate", nil)
	aa := rec.Of(event.AdminAction)
	if len(aa) != 2 || aa[0].Action != event.ActionUserRevoke || aa[0].UserID != uid || aa[0].Count != 1 || aa[0].Actor != event.ActorAdminAPI ||
		aa[1].Action != event.ActionKeyRotate || aa[1].KID == "" {
		t.Fatalf("AdminAction: %+v", aa)
	}
	if kr := rec.Of(event.KeyRotated); len(kr) != 1 || kr[0].KID != aa[1].KID {
		t.Fatalf("KeyRotated: %+v", kr)
	}

	// Every kind went by (on this run or before the last Reset): the
	// redaction check below covers them all.
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	for _, ev := range rec.Events() {
		log.Info("event", "e", ev)
	}
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) {
			t.Fatalf("an event's log value holds a secret (%.6s…)", s)
		}
		if strings.Contains(e.logs.String(), s) {
			t.Fatalf("the log holds a secret (%.6s…)", s)
		}
	}
}

// TestEventsNeverHoldRawTokens feeds every credential through the flows
// and greps every event's log value for them.
func TestEventsNeverHoldRawTokens(t *testing.T) {
	e := newEnv(t)
	rec := &eventtest.Recorder{}
	e.events.Subscribe(rec)
	e.addUser("pia", pw)
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true, "token_format": "opaque"})
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	secrets := []string{pw, rsSecret}
	b := e.loginCookie("pia", pw)
	secrets = append(secrets, b.cookie, b.csrf)
	at, rt := e.loginTokens("pia", map[string]string{"client_id": spa})
	secrets = append(secrets, at, rt)
	for _, tok := range []string{b.cookie, at, rt} {
		e.form("/oauth2/introspect", url.Values{"token": {tok}}, basic(rsID, rsSecret)...)
	}
	r := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}})
	secrets = append(secrets, r.json(t)["refresh_token"].(string), r.json(t)["access_token"].(string))
	cc := e.token(url.Values{"grant_type": {"client_credentials"}}, basic(rsID, rsSecret)...)
	secrets = append(secrets, cc.json(t)["access_token"].(string))
	e.clock.Add(60e9)
	e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}}) // reuse
	e.do(e.public, "POST", "/v1/logout", nil, b.headers()...)

	// Both the events as the domain built them (%+v bypasses LogValue's
	// redaction) and as logged.
	kinds := map[event.Kind]bool{}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	for _, ev := range rec.Events() {
		kinds[ev.Kind] = true
		log.Info("event", "e", ev)
		fmt.Fprintf(&buf, "%+v\n", ev)
	}
	for _, k := range []event.Kind{event.LoginSucceeded, event.SessionCreated, event.SessionValidated, event.Introspected,
		event.TokenIssued, event.RefreshRotated, event.RefreshReused, event.SessionRevoked, event.AdminAction} {
		if !kinds[k] {
			t.Errorf("no %v event went by", k)
		}
	}
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) || strings.Contains(buf.String(), s[4:]) {
			t.Fatalf("an event's log value holds a secret (%.6s…)", s)
		}
	}
}
