package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/forwardauth"
)

// sessionID is the id of the session behind a credential, as whoami tells it.
func (e *env) sessionID(headers ...string) string {
	e.t.Helper()
	r := e.whoami(headers...)
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("whoami: %d %s", r.StatusCode, r.body)
	}
	return r.json(e.t)["session"].(map[string]any)["id"].(string)
}

// TestStepUpMark: a session detection marked for a step-up is refused
// every sensitive use with RFC 9470's challenge, however recent its login;
// whoami tells it; POST /v1/reauth renews it into a session without the
// mark, which may change the password.
func TestStepUpMark(t *testing.T) {
	for _, cookie := range []bool{true, false} {
		t.Run(map[bool]string{true: "cookie", false: "token"}[cookie], func(t *testing.T) {
			e := newEnv(t)
			e.addUser("gina", pw)
			c := e.login(cookie)
			before := e.whoami(c.headers()...).json(t)["session"].(map[string]any)
			if _, ok := before["step_up_required"]; ok {
				t.Fatalf("a fresh session: %v", before)
			}
			e.clock.Add(time.Minute) // well within the recent-auth window
			if err := e.sessions.RequireStepUp(context.Background(), before["id"].(string), "new_device"); err != nil {
				t.Fatal(err)
			}
			marked := e.whoami(c.headers()...).json(t)["session"].(map[string]any)
			if marked["step_up_required"] != true || marked["auth_time"] != before["auth_time"] {
				t.Fatalf("whoami of a marked session: %v", marked)
			}
			list := e.do(e.public, "GET", "/v1/sessions", nil, c.headers()...).json(t)["sessions"].([]any)
			if len(list) != 1 || list[0].(map[string]any)["step_up_required"] != true {
				t.Fatalf("GET /v1/sessions of a marked session: %v", list)
			}
			for _, rq := range []struct{ method, path string }{
				{"POST", "/v1/password"}, {"POST", "/v1/mfa/totp"}, {"POST", "/v1/mfa/recovery-codes"}, {"DELETE", "/v1/mfa/totp"},
				{"POST", "/v1/webauthn/register/begin"}, {"DELETE", "/v1/webauthn/credentials/x"},
			} {
				r := e.do(e.public, rq.method, rq.path, map[string]string{"current_password": pw, "new_password": "a much better passphrase"}, c.headers()...)
				wantProblem(t, r, http.StatusUnauthorized, "insufficient_user_authentication")
				if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_user_authentication"`) || !strings.Contains(h, "max_age=600") {
					t.Fatalf("%s %s: WWW-Authenticate %q", rq.method, rq.path, h)
				}
			}
			c2 := renewed(t, c, e.do(e.public, "POST", "/v1/reauth", map[string]string{"method": "password", "password": pw}, c.headers()...))
			after := e.whoami(c2.headers()...).json(t)["session"].(map[string]any)
			if _, ok := after["step_up_required"]; ok || after["id"] == before["id"] {
				t.Fatalf("after re-authentication: %v", after)
			}
			r := e.do(e.public, "POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "a much better passphrase"}, c2.headers()...)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("password change after re-authentication: %d %s", r.StatusCode, r.body)
			}
		})
	}
}

// TestStepUpMarkReachesServices: a marked session still refreshes, but
// neither its new access tokens, nor introspection, nor forward auth
// vouch for an auth_time any more, so a max_age asks for a step-up; and
// the mark is never on the public revocation feed.
func TestStepUpMarkReachesServices(t *testing.T) {
	e := newEnv(t, withForwardAuth(forwardauth.Config{Rules: []forwardauth.Rule{
		{PathPrefix: "/settings", MaxAuthAge: 5 * time.Minute},
	}}, ForwardAuthHeaders{}))
	e.addUser("ian", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}, "revocation_feed": true})
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
	at, rt := e.loginTokens("ian", map[string]string{"client_id": spa})
	b := e.loginCookie("ian", pw)
	cookie := []string{"Cookie", "__Host-tessera_session=" + b.cookie}
	if jwtClaims(t, at).AuthTime == 0 || introspect(at)["auth_time"] == nil || introspect(b.cookie)["auth_time"] == nil {
		t.Fatal("an unmarked session vouches for no auth_time")
	}
	wantVerify(t, e.verify("GET", "/settings", cookie...), 200, "")
	feed := e.do(e.public, "GET", "/v1/revocations", nil, as...).json(t)
	cursor := feed["cursor"].(string)

	ctx := context.Background()
	for _, sid := range []string{e.sessionID(bearer(at)...), e.sessionID(cookie...)} {
		if err := e.sessions.RequireStepUp(ctx, sid, "new_device"); err != nil {
			t.Fatal(err)
		}
	}
	for name, tok := range map[string]string{"access token": at, "session token": b.cookie} {
		if m := introspect(tok); m["active"] != true || m["auth_time"] != nil || m["acr"] == nil {
			t.Fatalf("introspection of a marked session's %s: %v", name, m)
		}
	}
	wantVerify(t, e.verify("GET", "/settings", cookie...), 403, forwardauth.ReasonAuthAge)
	wantVerify(t, e.verify("GET", "/", cookie...), 200, "")

	r := e.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}})
	if r.StatusCode != 200 {
		t.Fatalf("refresh of a marked session: %d %s", r.StatusCode, r.body)
	}
	if c := jwtClaims(t, r.json(t)["access_token"].(string)); c.AuthTime != 0 || c.ACR == "" || c.SessionID == "" {
		t.Fatalf("access token of a marked session: %+v", c)
	}

	for _, q := range []string{"", "?since=" + cursor} {
		feed := e.do(e.public, "GET", "/v1/revocations"+q, nil, as...)
		if feed.StatusCode != 200 {
			t.Fatalf("feed%s: %d %s", q, feed.StatusCode, feed.body)
		}
		m := feed.json(t)
		if n := len(m["revocations"].([]any)); n != 0 {
			t.Fatalf("feed%s carries a step-up mark: %s", q, feed.body)
		}
		if q != "" && m["cursor"] == cursor {
			t.Fatal("the feed's cursor did not move past the marks")
		}
	}
}

// TestStepUpMarkReadAtTheGate: a mark the node has not heard of (written
// by another node whose notification has not arrived) still closes the
// sensitive gate: the gate reads the store.
func TestStepUpMarkReadAtTheGate(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	c := e.login(true)
	sid := e.sessionID(c.headers()...) // cached on this node, unmarked
	if _, err := e.st.MarkStepUp(context.Background(), sid, e.clock.Now(), "new_device"); err != nil {
		t.Fatal(err)
	}
	if m := e.whoami(c.headers()...).json(t)["session"].(map[string]any); m["step_up_required"] != nil {
		t.Fatalf("the node already knows of the mark (the test needs its copy stale): %v", m)
	}
	r := e.do(e.public, "POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "a much better passphrase"}, c.headers()...)
	wantProblem(t, r, http.StatusUnauthorized, "insufficient_user_authentication")
	if m := e.whoami(c.headers()...).json(t)["session"].(map[string]any); m["step_up_required"] != true {
		t.Fatalf("whoami after the gate read the mark: %v", m)
	}
}

// TestStepUpMarkGuardsOtherSessions: a session marked as probably stolen
// may not end the user's other sessions (the thief would lock the owner
// out of their other devices and keep the copy) until it steps up; it may
// still end itself, and an unmarked session may end it.
func TestStepUpMarkGuardsOtherSessions(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	stolen := e.login(true)
	owner := e.login(false)
	stolenID, ownerID := e.sessionID(stolen.headers()...), e.sessionID(owner.headers()...)
	if err := e.sessions.RequireStepUp(context.Background(), stolenID, "device_change"); err != nil {
		t.Fatal(err)
	}
	r := e.do(e.public, "POST", "/v1/sessions/revoke-others", nil, stolen.headers()...)
	wantProblem(t, r, http.StatusUnauthorized, "insufficient_user_authentication")
	r = e.do(e.public, "DELETE", "/v1/sessions/"+ownerID, nil, stolen.headers()...)
	wantProblem(t, r, http.StatusUnauthorized, "insufficient_user_authentication")
	if r := e.whoami(owner.headers()...); r.StatusCode != http.StatusOK {
		t.Fatalf("the owner's session was ended: %d %s", r.StatusCode, r.body)
	}
	// The owner ends the marked session from another device.
	if r := e.do(e.public, "POST", "/v1/sessions/revoke-others", nil, owner.headers()...); r.StatusCode != http.StatusOK {
		t.Fatalf("revoke-others from an unmarked session: %d %s", r.StatusCode, r.body)
	}
	if r := e.whoami(stolen.headers()...); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the marked session survived: %d", r.StatusCode)
	}

	// A marked session may still end itself.
	c := e.login(true)
	id := e.sessionID(c.headers()...)
	if err := e.sessions.RequireStepUp(context.Background(), id, "device_change"); err != nil {
		t.Fatal(err)
	}
	if r := e.do(e.public, "DELETE", "/v1/sessions/"+id, nil, c.headers()...); r.StatusCode != http.StatusNoContent {
		t.Fatalf("a marked session ending itself: %d %s", r.StatusCode, r.body)
	}
}
