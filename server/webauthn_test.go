package server

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/passkey/passkeytest"
)

const rpOrigin = "https://auth.example.test"

// record subscribes a recorder to e's events.
func (e *env) record() *eventtest.Recorder {
	rec := &eventtest.Recorder{}
	e.events.Subscribe(rec)
	return rec
}

// registerKey adds a's new credential for c's user over HTTP and
// returns the renewed credential and the registration's answer.
func (e *env) registerKey(t *testing.T, c credential, a *passkeytest.Authenticator, name string) (credential, map[string]any) {
	t.Helper()
	r := e.do(e.public, "POST", "/v1/webauthn/register/begin", map[string]string{"name": name}, c.headers()...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("register/begin: %d %s", r.StatusCode, r.body)
	}
	r = e.do(e.public, "POST", "/v1/webauthn/register/finish", map[string]json.RawMessage{"credential": a.Create(t, r.body)}, c.headers()...)
	next := renewed(t, c, r)
	return next, r.json(t)
}

// webauthnLogin runs login/begin and login/finish with a and the extra
// finish fields; it returns the finish answer.
func (e *env) webauthnLogin(t *testing.T, a *passkeytest.Authenticator, begin map[string]string, finish map[string]any) resp {
	t.Helper()
	r := e.do(e.public, "POST", "/v1/webauthn/login/begin", begin)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("login/begin: %d %s", r.StatusCode, r.body)
	}
	finish["credential"] = json.RawMessage(a.Get(t, r.body))
	return e.do(e.public, "POST", "/v1/webauthn/login/finish", finish)
}

func sessionOfResp(t *testing.T, r resp) map[string]any {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", r.StatusCode, r.body)
	}
	s, _ := r.json(t)["session"].(map[string]any)
	if s == nil {
		t.Fatalf("no session in %s", r.body)
	}
	return s
}

// credentialOf reads the credential a login delivered.
func credentialOf(t *testing.T, cookie bool, r resp) credential {
	t.Helper()
	m := r.json(t)
	if cookie {
		ck := r.cookie("__Host-tessera_session")
		if ck == nil || m["access_token"] != nil {
			t.Fatalf("cookie delivery: %s", r.body)
		}
		return credential{cookie: true, b: browser{cookie: ck.Value, csrf: m["csrf_token"].(string)}}
	}
	if r.cookie("__Host-tessera_session") != nil || m["access_token"] == nil {
		t.Fatalf("token delivery: %s", r.body)
	}
	return credential{accessToken: m["access_token"].(string)}
}

func TestWebAuthnEndToEnd(t *testing.T) {
	for _, cookie := range []bool{true, false} {
		delivery := map[bool]string{true: "cookie", false: "token"}[cookie]
		t.Run(delivery, func(t *testing.T) {
			e := newEnv(t)
			rec := e.record()
			e.addUser("gina", pw)
			key := passkeytest.New(rpOrigin)
			key.Attestation = "packed"

			// Register: the session is renewed with the key's assurance.
			first := e.login(cookie)
			c, body := e.registerKey(t, first, key, "yubikey")
			sess := body["session"].(map[string]any)
			if sess["aal"] != float64(3) || !sameAMR(sess["amr"], "pwd", "hwk", "user", "mfa") {
				t.Fatalf("session after registration: %v", sess)
			}
			cred := body["credential"].(map[string]any)
			if cred["name"] != "yubikey" || cred["kind"] != "hardware-bound" || cred["attestation_format"] != "packed" {
				t.Fatalf("credential: %v", cred)
			}
			if r := e.whoami(first.headers()...); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("pre-registration credential: %d", r.StatusCode)
			}
			// A second, synced passkey.
			phone := passkeytest.New(rpOrigin)
			phone.BackupEligible = true
			e.clock.Add(time.Second)
			c, _ = e.registerKey(t, c, phone, "phone")
			r := e.do(e.public, "GET", "/v1/webauthn/credentials", nil, c.headers()...)
			var list struct {
				Credentials []struct{ ID, Name, Kind string } `json:"credentials"`
			}
			if err := json.Unmarshal(r.body, &list); err != nil || len(list.Credentials) != 2 ||
				list.Credentials[0].Name != "yubikey" || list.Credentials[1].Kind != "synced" {
				t.Fatalf("credentials: %s", r.body)
			}

			// Password, then the security key as the second factor.
			tok := e.challenge(t, map[string]string{"delivery": delivery}, "webauthn")
			r = e.webauthnLogin(t, key, map[string]string{"mfa_token": tok}, map[string]any{"mfa_token": tok})
			sess = sessionOfResp(t, r)
			if sess["aal"] != float64(3) || !sameAMR(sess["amr"], "pwd", "hwk", "user", "mfa") {
				t.Fatalf("second-factor session: %v", sess)
			}
			second := credentialOf(t, cookie, r)
			if !cookie {
				claims := jwtClaims(t, second.accessToken)
				if claims.ACR != "aal3" || !slices.Equal(claims.AMR, []string{"pwd", "hwk", "user", "mfa"}) {
					t.Fatalf("JWT acr %q amr %v", claims.ACR, claims.AMR)
				}
			}
			// The finish cannot be replayed: its challenge and its mfa_token are spent.
			r = e.do(e.public, "POST", "/v1/webauthn/login/finish", map[string]any{"mfa_token": tok, "credential": json.RawMessage(key.Get(t, []byte(`{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"auth.example.test"}}`)))})
			wantProblem(t, r, http.StatusUnauthorized, "invalid_mfa_token")

			// A synced passkey as second factor: AAL2.
			tok = e.challenge(t, map[string]string{"delivery": delivery}, "webauthn")
			r = e.webauthnLogin(t, phone, map[string]string{"mfa_token": tok}, map[string]any{"mfa_token": tok})
			if sess = sessionOfResp(t, r); sess["aal"] != float64(2) || !sameAMR(sess["amr"], "pwd", "swk", "user", "mfa") {
				t.Fatalf("synced second factor: %v", sess)
			}

			// Passwordless: the security key with UV is AAL3 on its own.
			r = e.webauthnLogin(t, key, nil, map[string]any{"delivery": delivery})
			if sess = sessionOfResp(t, r); sess["aal"] != float64(3) || !sameAMR(sess["amr"], "hwk", "user", "mfa") {
				t.Fatalf("passwordless session: %v", sess)
			}
			pwless := credentialOf(t, cookie, r)
			if who := e.whoami(pwless.headers()...); who.StatusCode != http.StatusOK {
				t.Fatalf("whoami after passwordless: %d", who.StatusCode)
			}

			// From another origin the assertion is refused, and an event says why.
			key.Origin = "https://evil.example"
			r = e.webauthnLogin(t, key, nil, map[string]any{"delivery": delivery})
			wantProblem(t, r, http.StatusUnauthorized, "webauthn_failed")
			key.Origin = rpOrigin
			if strings.Contains(e.logs.String(), "tsm_") || strings.Contains(e.logs.String(), "tss_") {
				t.Fatal("a token in the log")
			}

			// Removing a key ends every session of the user (the removing
			// client gets a fresh one without the key's amr).
			id := list.Credentials[0].ID
			r = e.do(e.public, "DELETE", "/v1/webauthn/credentials/"+id, nil, c.headers()...)
			c = renewed(t, c, r)
			if sess = sessionOfResp(t, r); slices.Contains(sess["amr"].([]any), any("hwk")) {
				t.Fatalf("session after removal keeps hwk: %v", sess)
			}
			for _, old := range []credential{second, pwless} {
				if r := e.whoami(old.headers()...); r.StatusCode != http.StatusUnauthorized {
					t.Fatalf("a session outlived the key's removal: %d", r.StatusCode)
				}
			}
			wantProblem(t, e.do(e.public, "DELETE", "/v1/webauthn/credentials/"+id, nil, c.headers()...), http.StatusNotFound, "not_found")
			// The removed key no longer logs in.
			r = e.webauthnLogin(t, key, nil, map[string]any{})
			wantProblem(t, r, http.StatusUnauthorized, "webauthn_failed")
			// Removing the last one: the password alone logs in again.
			c = renewed(t, c, e.do(e.public, "DELETE", "/v1/webauthn/credentials/"+list.Credentials[1].ID, nil, c.headers()...))
			if l := e.do(e.public, "GET", "/v1/webauthn/credentials", nil, c.headers()...); !strings.Contains(string(l.body), `"credentials":[]`) {
				t.Fatalf("credentials after removing both: %s", l.body)
			}
			if r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "gina", "password": pw}); r.StatusCode != http.StatusOK || r.json(t)["mfa_required"] == true {
				t.Fatalf("password login after the last key left: %s", r.body)
			}
			if n := len(rec.Of(event.FactorChanged)); n < 4 {
				t.Fatalf("%d factor_changed events", n)
			}
		})
	}
}

func TestWebAuthnFailuresOverHTTP(t *testing.T) {
	e := newEnv(t)
	rec := e.record()
	e.addUser("gina", pw)
	key := passkeytest.New(rpOrigin)
	c, _ := e.registerKey(t, e.login(true), key, "key")

	// Adding a key needs recent authentication (RFC 9470 challenge).
	e.clock.Add(11 * time.Minute)
	r := e.do(e.public, "POST", "/v1/webauthn/register/begin", map[string]string{"name": "late"}, c.headers()...)
	wantProblem(t, r, http.StatusUnauthorized, "insufficient_user_authentication")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_user_authentication"`) {
		t.Fatalf("WWW-Authenticate: %q", r.Header.Get("WWW-Authenticate"))
	}
	wantProblem(t, e.do(e.public, "DELETE", "/v1/webauthn/credentials/"+base64.RawURLEncoding.EncodeToString(key.Credentials()[0].ID), nil, c.headers()...),
		http.StatusUnauthorized, "insufficient_user_authentication")

	// Step-up with the key renews the session; its response is single use.
	r = e.do(e.public, "POST", "/v1/webauthn/reauth/begin", nil, c.headers()...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("reauth/begin: %d %s", r.StatusCode, r.body)
	}
	assertion := json.RawMessage(key.Get(t, r.body))
	r = e.do(e.public, "POST", "/v1/reauth", map[string]any{"method": "webauthn", "credential": assertion}, c.headers()...)
	stale := c
	c = renewed(t, c, r)
	if sess := sessionOfResp(t, r); sess["auth_time"] != e.clock.Now().Format(time.RFC3339) || sess["aal"] != float64(3) {
		t.Fatalf("session after a webauthn step-up: %v", sess)
	}
	wantProblem(t, e.do(e.public, "POST", "/v1/reauth", map[string]any{"method": "webauthn", "credential": assertion}, c.headers()...), http.StatusForbidden, "webauthn_failed")
	if r := e.whoami(stale.headers()...); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the session a step-up renewed still works: %d", r.StatusCode)
	}
	if r := e.do(e.public, "POST", "/v1/webauthn/register/begin", map[string]string{"name": "after step-up"}, c.headers()...); r.StatusCode != http.StatusOK {
		t.Fatalf("register/begin after step-up: %d %s", r.StatusCode, r.body)
	}

	// A cross-site page cannot start or finish a login (login CSRF).
	r = e.do(e.public, "POST", "/v1/webauthn/login/begin", map[string]string{}, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	wantProblem(t, r, http.StatusForbidden, "csrf")

	// Wrong RP ID; a challenge no ceremony issued; an expired ceremony;
	// a sign-count regression; an unknown credential.
	key.RPID = "evil.example"
	wantProblem(t, e.webauthnLogin(t, key, nil, map[string]any{}), http.StatusUnauthorized, "webauthn_failed")
	key.RPID = ""
	r = e.do(e.public, "POST", "/v1/webauthn/login/finish", map[string]any{"credential": json.RawMessage(key.Assert(t, key.Credentials()[0], "bm8tc3VjaC1jaGFsbGVuZ2UtZXZlcg"))})
	wantProblem(t, r, http.StatusUnauthorized, "webauthn_failed")
	r = e.do(e.public, "POST", "/v1/webauthn/login/begin", nil)
	e.clock.Add(5 * time.Minute)
	r = e.do(e.public, "POST", "/v1/webauthn/login/finish", map[string]any{"credential": json.RawMessage(key.Get(t, r.body))})
	wantProblem(t, r, http.StatusUnauthorized, "webauthn_failed")
	if r := e.webauthnLogin(t, key, nil, map[string]any{}); r.StatusCode != http.StatusOK {
		t.Fatalf("passwordless: %d %s", r.StatusCode, r.body)
	}
	key.Credentials()[0].Counter = 0 // a clone, one use behind
	wantProblem(t, e.webauthnLogin(t, key, nil, map[string]any{}), http.StatusUnauthorized, "webauthn_failed")
	if ev := rec.Of(event.SignCountRegressed); len(ev) != 1 || ev[0].Reason != "refused" {
		t.Fatalf("sign_count_regressed events: %+v", ev)
	}
	if !strings.Contains(e.logs.String(), "possibly cloned authenticator") {
		t.Fatal("no log line for the sign-count regression")
	}
	stranger := passkeytest.New(rpOrigin)
	e.addUser("hank", pw)
	opts := e.do(e.public, "POST", "/v1/webauthn/register/begin", map[string]string{}, e.loginCookie("hank", pw).headers()...)
	stranger.Create(t, opts.body) // never finished
	wantProblem(t, e.webauthnLogin(t, stranger, nil, map[string]any{}), http.StatusUnauthorized, "webauthn_failed")

	// Bad input is a clear 400, never a 500.
	for _, body := range []string{`{}`, `{"credential":"x"}`, `{"credential":{"id":1}}`, `{"credential":{},"delivery":"pigeon"}`} {
		r := e.do(e.public, "POST", "/v1/webauthn/login/finish", body)
		if r.StatusCode != http.StatusBadRequest && r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %d %s", body, r.StatusCode, r.body)
		}
	}
	// An mfa_token that is no live challenge.
	wantProblem(t, e.do(e.public, "POST", "/v1/webauthn/login/begin", map[string]string{"mfa_token": "tsm_nope"}), http.StatusUnauthorized, "invalid_mfa_token")
}
