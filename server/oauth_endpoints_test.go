package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

func (e *env) loginTokens(user string, extra map[string]string) (at, rt string) {
	e.t.Helper()
	body := map[string]string{"username": user, "password": pw, "delivery": "token"}
	for k, v := range extra {
		body[k] = v
	}
	r := e.do(e.public, "POST", "/v1/login", body)
	if r.StatusCode != 200 {
		e.t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	m := r.json(e.t)
	return m["access_token"].(string), m["refresh_token"].(string)
}

func (e *env) form(path string, form url.Values, headers ...string) resp {
	e.t.Helper()
	return e.do(e.public, "POST", path, form.Encode(), append([]string{"Content-Type", formType}, headers...)...)
}

func TestIntrospection(t *testing.T) {
	e := newEnv(t)
	e.addUser("ian", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true})
	as := basic(rsID, rsSecret)
	introspect := func(tok string) map[string]any {
		t.Helper()
		r := e.form("/oauth2/introspect", url.Values{"token": {tok}}, as...)
		if r.StatusCode != 200 {
			t.Fatalf("introspect: %d %s", r.StatusCode, r.body)
		}
		return r.json(t)
	}
	at, _ := e.loginTokens("ian", nil)
	m := introspect(at)
	if m["active"] != true || m["username"] != "ian" || m["token_type"] != "Bearer" || m["sid"] == nil || m["client_id"] != "tessera" {
		t.Fatalf("access token: %v", m)
	}
	b := e.loginCookie("ian", pw)
	if m := introspect(b.cookie); m["active"] != true || m["token_type"] != "session" || m["username"] != "ian" {
		t.Fatalf("session token: %v", m)
	}
	_, spaRT := e.loginTokens("ian", map[string]string{"client_id": spa})
	if m := introspect(spaRT); m["active"] != false {
		t.Fatalf("another client's refresh token must look inactive: %v", m)
	}
	for name, tok := range map[string]string{"garbage": "hello", "jwt-shaped garbage": "a.b.c", "unknown session": "tss_" + "0000000000000000000000000000000000000000000000000"} {
		if m := introspect(tok); len(m) != 1 || m["active"] != false {
			t.Fatalf("%s: %v, want exactly {active:false}", name, m)
		}
	}
	// Logout ends the session: its access token goes inactive at once.
	e.do(e.public, "POST", "/v1/logout", nil, bearer(at)...)
	if m := introspect(at); m["active"] != false {
		t.Fatalf("access token of a revoked session: %v", m)
	}
	e.clock.Add(31 * time.Minute)
	if m := introspect(b.cookie); m["active"] != false {
		t.Fatalf("idle-expired session token: %v", m)
	}
	wantOAuthError(t, e.form("/oauth2/introspect", url.Values{"token": {at}}), 401, "invalid_client")
	wantOAuthError(t, e.form("/oauth2/introspect", url.Values{"token": {at}, "client_id": {spa}}), 401, "invalid_client")
	wantOAuthError(t, e.form("/oauth2/introspect", url.Values{}, as...), 400, "invalid_request")
}

func TestRevocationEndpoint(t *testing.T) {
	e := newEnv(t)
	e.addUser("jo", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true})
	introspect := func(tok string) bool {
		return e.form("/oauth2/introspect", url.Values{"token": {tok}}, basic(rsID, rsSecret)...).json(t)["active"] == true
	}
	// An access token revoked alone is denied everywhere until it expires;
	// its session lives on.
	at, rt := e.loginTokens("jo", nil)
	if r := e.form("/oauth2/revoke", url.Values{"token": {at}}); r.StatusCode != 200 {
		t.Fatalf("revoke access token: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.whoami(bearer(at)...), 401, "invalid_token")
	if introspect(at) {
		t.Fatal("revoked access token still active")
	}
	r := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if r.StatusCode != 200 {
		t.Fatalf("the session should outlive one revoked access token: %s", r.body)
	}
	rt = r.json(t)["refresh_token"].(string)
	at2 := r.json(t)["access_token"].(string)
	// Revoking the refresh token ends the family: the session and its tokens.
	if r := e.form("/oauth2/revoke", url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}); r.StatusCode != 200 {
		t.Fatalf("revoke refresh token: %d", r.StatusCode)
	}
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}), 400, "invalid_grant")
	wantProblem(t, e.whoami(bearer(at2)...), 401, "invalid_token")

	// A client cannot revoke another client's tokens.
	_, spaRT := e.loginTokens("jo", map[string]string{"client_id": spa})
	wantOAuthError(t, e.form("/oauth2/revoke", url.Values{"token": {spaRT}}), 400, "unauthorized_client")
	wantOAuthError(t, e.form("/oauth2/revoke", url.Values{"token": {spaRT}}, basic(rsID, rsSecret)...), 400, "unauthorized_client")
	if r := e.form("/oauth2/revoke", url.Values{"token": {spaRT}, "client_id": {spa}}); r.StatusCode != 200 {
		t.Fatalf("own token: %d", r.StatusCode)
	}
	// Invalid tokens answer 200 (RFC 7009 §2.2); malformed requests do not.
	for _, tok := range []string{"garbage", "a.b.c", "tsr_" + "0000000000000000000000000000000000000000000000000"} {
		if r := e.form("/oauth2/revoke", url.Values{"token": {tok}}); r.StatusCode != 200 {
			t.Fatalf("revoke %q: %d", tok, r.StatusCode)
		}
	}
	wantOAuthError(t, e.form("/oauth2/revoke", url.Values{}), 400, "invalid_request")
	wantOAuthError(t, e.form("/oauth2/revoke", url.Values{"token": {"x"}}, basic(rsID, "wrong")...), 401, "invalid_client")
}

// RFC 7009 with a session token: its holder (no client) ends the session,
// which cookie, bearer and introspection then refuse; a client is not its
// holder (issue 10, M1: it answered 200 and revoked nothing).
func TestRevokeSessionToken(t *testing.T) {
	e := newEnv(t)
	e.addUser("jo", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true})
	b := e.loginCookie("jo", pw)
	introspect := func() any {
		return e.form("/oauth2/introspect", url.Values{"token": {b.cookie}}, basic(rsID, rsSecret)...).json(t)["active"]
	}
	wantOAuthError(t, e.form("/oauth2/revoke", url.Values{"token": {b.cookie}, "client_id": {spa}}), 400, "unauthorized_client")
	wantOAuthError(t, e.form("/oauth2/revoke", url.Values{"token": {b.cookie}}, basic(rsID, rsSecret)...), 400, "unauthorized_client")
	if e.whoami("Cookie", "__Host-tessera_session="+b.cookie).StatusCode != 200 || introspect() != true {
		t.Fatal("a refused revocation ended the session")
	}
	if r := e.form("/oauth2/revoke", url.Values{"token": {b.cookie}, "token_type_hint": {"access_token"}}); r.StatusCode != 200 {
		t.Fatalf("revoke session token: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.whoami("Cookie", "__Host-tessera_session="+b.cookie), 401, "invalid_token")
	wantProblem(t, e.whoami(bearer(b.cookie)...), 401, "invalid_token")
	if introspect() != false {
		t.Fatal("revoked session token still active")
	}
	// Revoking it again: nothing left to revoke, still 200 (§2.2).
	if r := e.form("/oauth2/revoke", url.Values{"token": {b.cookie}}); r.StatusCode != 200 {
		t.Fatalf("revoke again: %d", r.StatusCode)
	}
}

func TestRevocationFeed(t *testing.T) {
	e := newEnv(t)
	e.addUser("kai", pw)
	id, secret := e.addClient(map[string]any{"name": "rs", "grants": []string{"client_credentials"}, "revocation_feed": true})
	feed := func(query string) resp {
		return e.do(e.public, "GET", "/v1/revocations"+query, nil, basic(id, secret)...)
	}
	at, _ := e.loginTokens("kai", nil)
	e.do(e.public, "POST", "/v1/logout", nil, bearer(at)...)
	at2, _ := e.loginTokens("kai", nil)
	e.form("/oauth2/revoke", url.Values{"token": {at2}})

	r := feed("")
	if r.StatusCode != 200 {
		t.Fatalf("feed: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	entries := m["revocations"].([]any)
	if len(entries) != 2 {
		t.Fatalf("feed has %d entries, want the logout and the denial: %s", len(entries), r.body)
	}
	first, second := entries[0].(map[string]any), entries[1].(map[string]any)
	// No more than a verifier needs: no reason (nor user) for a session or
	// a token (issue 10).
	if first["sid"] == nil || first["reason"] != nil || first["user_id"] != nil || first["until"] != "2026-06-01T08:16:00Z" {
		t.Fatalf("session entry %v", first)
	}
	if second["jti"] == nil || second["reason"] != nil || second["until"] != "2026-06-01T08:16:00Z" {
		t.Fatalf("denial entry %v", second)
	}
	cursor := m["cursor"].(string)
	if n, _ := strconv.Atoi(cursor); n != int(second["seq"].(float64)) {
		t.Fatalf("cursor %s after seq %v", cursor, second["seq"])
	}
	// Nothing new: an immediate empty answer keeps the cursor.
	if m := feed("?since=" + cursor).json(t); len(m["revocations"].([]any)) != 0 || m["cursor"] != cursor {
		t.Fatalf("empty poll: %v", m)
	}
	// Long poll: answers as soon as a revocation happens.
	done := make(chan resp)
	go func() { done <- feed("?since=" + cursor + "&wait=10") }()
	time.Sleep(300 * time.Millisecond) // let the poll start waiting (real time: the HTTP round trip)
	b := e.loginCookie("kai", pw)
	e.do(e.public, "POST", "/v1/logout", nil, b.headers()...)
	select {
	case r := <-done:
		if got := r.json(t)["revocations"].([]any); len(got) != 1 {
			t.Fatalf("long poll: %s", r.body)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("long poll did not return after a revocation")
	}
	wantProblem(t, e.do(e.public, "GET", "/v1/revocations", nil), 401, "invalid_client")
	wantProblem(t, e.do(e.public, "GET", "/v1/revocations", nil, basic(id, "wrong")...), 401, "invalid_client")
	wantProblem(t, feed("?since=-1"), 400, "invalid_field")
	// A cursor from a database this one is not (a restored backup): its
	// follower must start over rather than skip what is numbered below it.
	wantProblem(t, feed("?since=999999"), 400, "invalid_field")
	wantProblem(t, feed("?since=0&wait=99"), 400, "invalid_field")
	// Large enough to overflow a Duration once multiplied by a second.
	wantProblem(t, feed("?since=0&wait=9223372037"), 400, "invalid_field")
}

// feedReads tells when a feed read of the store has returned.
type feedReads struct {
	TokenStore
	reads chan struct{}
}

func (s *feedReads) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	revs, err := s.TokenStore.Revocations(ctx, after, limit)
	select {
	case s.reads <- struct{}{}:
	default:
	}
	return revs, err
}

// TestRevocationFeedWakesOnLocalRevocation: a logout on this node answers
// a waiting long poll at once. The feed re-reads the store only hourly
// here, so only the wake-up can answer before the client gives up; that
// 20 s watchdog is no timing threshold: woken, the poll answers at once.
func TestRevocationFeedWakesOnLocalRevocation(t *testing.T) {
	e := newEnv(t)
	e.addUser("kai", pw)
	id, secret := e.addClient(map[string]any{"name": "rs", "grants": []string{"client_credentials"}, "revocation_feed": true})
	st := &feedReads{TokenStore: e.st, reads: make(chan struct{}, 1)}
	cfg := e.srv.oauthCfg
	cfg.FeedPoll = time.Hour
	e.srv.WithOAuth(e.srv.oauth, e.srv.atVerifier, cfg, st)
	b := e.loginCookie("kai", pw)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.public.URL+"/v1/revocations?since=0&wait=30", nil)
	req.SetBasicAuth(id, secret)
	type result struct {
		status int
		body   map[string]any
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		var m map[string]any
		err = json.NewDecoder(res.Body).Decode(&m)
		done <- result{res.StatusCode, m, err}
	}()
	select {
	case <-st.reads: // it found nothing and waits
	case r := <-done:
		t.Fatalf("the feed answered without waiting: %+v", r)
	}
	e.do(e.public, "POST", "/v1/logout", nil, b.headers()...)
	r := <-done
	if r.err != nil {
		t.Fatalf("the long poll was not woken by the logout: %v", r.err)
	}
	if got, _ := r.body["revocations"].([]any); r.status != 200 || len(got) != 1 {
		t.Fatalf("long poll: %d %v", r.status, r.body)
	}
}

// TestRevocationFeedOutlivesWriteTimeout: a long poll may wait longer than
// the server's write timeout (serve sets 30 s; the feed allows wait=30)
// and still answer.
func TestRevocationFeedOutlivesWriteTimeout(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(map[string]any{"name": "rs", "grants": []string{"client_credentials"}, "revocation_feed": true})
	ts := httptest.NewUnstartedServer(e.srv.Public())
	ts.Config.WriteTimeout = 300 * time.Millisecond
	ts.Start()
	defer ts.Close()
	req, _ := http.NewRequest("GET", ts.URL+"/v1/revocations?since=0&wait=1", nil)
	req.SetBasicAuth(id, secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a poll longer than the write timeout was cut off: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t)
	r := e.do(e.public, "GET", "/.well-known/oauth-authorization-server", nil)
	m := r.json(t)
	want := map[string]string{
		"issuer":                 "https://auth.example.test",
		"token_endpoint":         "https://auth.example.test/oauth2/token",
		"introspection_endpoint": "https://auth.example.test/oauth2/introspect",
		"revocation_endpoint":    "https://auth.example.test/oauth2/revoke",
		"jwks_uri":               "https://auth.example.test/.well-known/jwks.json",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %s", k, m[k], v)
		}
	}
	if r.StatusCode != 200 || len(m["grant_types_supported"].([]any)) != 2 {
		t.Fatalf("metadata %d %v", r.StatusCode, m)
	}
}

func TestOpaqueAccessTokens(t *testing.T) {
	e := newEnv(t)
	e.addUser("lea", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "rs", "grants": []string{"client_credentials"}})
	svc, svcSecret := e.addClient(map[string]any{"name": "legacy", "grants": []string{"client_credentials"}, "scopes": []string{"read"}, "token_format": "opaque"})
	app, _ := e.addClient(map[string]any{"name": "app", "grants": []string{"refresh_token"}, "public": true, "first_party": true, "token_format": "opaque"})
	introspect := func(tok string) map[string]any {
		return e.form("/oauth2/introspect", url.Values{"token": {tok}}, basic(rsID, rsSecret)...).json(t)
	}
	r := e.token(url.Values{"grant_type": {"client_credentials"}}, basic(svc, svcSecret)...)
	at := r.json(t)["access_token"].(string)
	if !strings.HasPrefix(at, "tsa_") {
		t.Fatalf("opaque client got %q", at)
	}
	if m := introspect(at); m["active"] != true || m["client_id"] != svc || m["scope"] != "read" || m["jti"] == nil {
		t.Fatalf("introspect opaque: %v", m)
	}
	wantOAuthError(t, e.form("/oauth2/revoke", url.Values{"token": {at}}, basic(rsID, rsSecret)...), 400, "unauthorized_client")
	if r := e.form("/oauth2/revoke", url.Values{"token": {at}}, basic(svc, svcSecret)...); r.StatusCode != 200 {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	if m := introspect(at); m["active"] != false {
		t.Fatalf("revoked opaque token: %v", m)
	}
	// A user's opaque access token works as a bearer and dies with its session.
	uat, _ := e.loginTokens("lea", map[string]string{"client_id": app})
	if !strings.HasPrefix(uat, "tsa_") || e.whoami(bearer(uat)...).StatusCode != 200 {
		t.Fatalf("user opaque token %q", uat)
	}
	e.do(e.public, "POST", "/v1/logout", nil, bearer(uat)...)
	wantProblem(t, e.whoami(bearer(uat)...), 401, "invalid_token")
	if m := introspect(uat); m["active"] != false {
		t.Fatalf("opaque token of a revoked session: %v", m)
	}
	e.clock.Add(16 * time.Minute)
	r = e.token(url.Values{"grant_type": {"client_credentials"}}, basic(svc, svcSecret)...)
	fresh := r.json(t)["access_token"].(string)
	e.clock.Add(16 * time.Minute)
	if m := introspect(fresh); m["active"] != false {
		t.Fatalf("expired opaque token: %v", m)
	}
}

func TestRevokedTokenStaysDeadInLeeway(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(map[string]any{"name": "svc", "grants": []string{"client_credentials"}})
	rs, rsSecret := e.addClient(map[string]any{"name": "rs", "grants": []string{"client_credentials"}})
	at := e.token(url.Values{"grant_type": {"client_credentials"}}, basic(id, secret)...).json(t)["access_token"].(string)
	e.form("/oauth2/revoke", url.Values{"token": {at}}, basic(id, secret)...)
	e.clock.Add(15*time.Minute + 10*time.Second) // past exp, within the 30 s verifier leeway
	if m := e.form("/oauth2/introspect", url.Values{"token": {at}}, basic(rs, rsSecret)...).json(t); m["active"] != false {
		t.Fatalf("revoked token active again past exp: %v", m)
	}
}
