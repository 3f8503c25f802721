package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/mfa"
)

// withPolicy remounts e's server with another MFA policy.
func (e *env) withPolicy(p authflow.MFAPolicy) {
	e.t.Helper()
	e.srv.WithMFA(e.mfa, e.st, p)
	e.public.Close()
	e.admin.Close()
	e.public = httptest.NewServer(e.srv.Public())
	e.admin = httptest.NewServer(e.srv.Admin())
	e.t.Cleanup(e.public.Close)
	e.t.Cleanup(e.admin.Close)
}

func totpAt(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// credential is a logged-in client of either delivery: its request
// headers, and how to take a renewal.
type credential struct {
	cookie      bool
	b           browser
	accessToken string
}

func (c credential) headers() []string {
	if c.cookie {
		return c.b.headers()
	}
	return bearer(c.accessToken)
}

// renewed reads the credential a renewal (login, step-up, enrollment)
// delivered.
func renewed(t *testing.T, old credential, r resp) credential {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("renewal: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	if old.cookie {
		ck := r.cookie("__Host-tessera_session")
		if ck == nil || ck.Value == old.b.cookie {
			t.Fatalf("renewal kept the session cookie (%v)", ck)
		}
		if m["csrf_token"] == old.b.csrf || m["csrf_token"] == "" {
			t.Fatal("renewal kept the CSRF token")
		}
		return credential{cookie: true, b: browser{cookie: ck.Value, csrf: m["csrf_token"].(string)}}
	}
	at, _ := m["access_token"].(string)
	if at == "" || at == old.accessToken || r.cookie("__Host-tessera_session") != nil {
		t.Fatalf("token renewal: %s", r.body)
	}
	return credential{accessToken: at}
}

func (e *env) login(cookie bool) credential {
	e.t.Helper()
	if cookie {
		return credential{cookie: true, b: e.loginCookie("gina", pw)}
	}
	return credential{accessToken: e.loginToken("gina", pw)}
}

// enrollTOTP enrolls and confirms TOTP for the credential's user and
// returns the secret, the recovery codes and the renewed credential.
func (e *env) enrollTOTP(t *testing.T, c credential) (string, []string, credential) {
	t.Helper()
	r := e.do(e.public, "POST", "/v1/mfa/totp", nil, c.headers()...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("enroll: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	secret := m["secret"].(string)
	if !strings.HasPrefix(m["otpauth_uri"].(string), "otpauth://totp/Tessera:gina?") {
		t.Fatalf("otpauth_uri = %v", m["otpauth_uri"])
	}
	if png, err := base64.StdEncoding.DecodeString(m["qr_png"].(string)); err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("qr_png is no base64 PNG: %v", err)
	}
	r = e.do(e.public, "POST", "/v1/mfa/totp/confirm", map[string]string{"code": totpAt(t, secret, e.clock.Now())}, c.headers()...)
	next := renewed(t, c, r)
	body := r.json(t)
	var codes []string
	for _, x := range body["recovery_codes"].([]any) {
		codes = append(codes, x.(string))
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	sess := body["session"].(map[string]any)
	if sess["aal"] != float64(2) || !sameAMR(sess["amr"], "pwd", "otp", "mfa") {
		t.Fatalf("session after enrollment: %v", sess)
	}
	// The enrolling session's old token is dead: a privilege change renews it.
	if r := e.whoami(c.headers()...); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("pre-enrollment credential after renewal: %d", r.StatusCode)
	}
	return secret, codes, next
}

func sameAMR(v any, want ...string) bool {
	l, _ := v.([]any)
	var got []string
	for _, x := range l {
		got = append(got, x.(string))
	}
	return slices.Equal(got, want)
}

// challenge logs in with the password and expects an MFA challenge.
// methods are the challenge's expected methods (default totp, recovery_code).
func (e *env) challenge(t *testing.T, body map[string]string, methods ...string) string {
	t.Helper()
	body["username"], body["password"] = "gina", pw
	r := e.do(e.public, "POST", "/v1/login", body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	if m["mfa_required"] != true || m["session"] != nil || m["access_token"] != nil || r.cookie("__Host-tessera_session") != nil {
		t.Fatalf("login with TOTP enrolled: %s", r.body)
	}
	if len(methods) == 0 {
		methods = []string{"totp", "recovery_code"}
	}
	if !sameAMR(m["methods"], methods...) || m["expires_in"] != float64(300) {
		t.Fatalf("challenge = %s", r.body)
	}
	tok := m["mfa_token"].(string)
	if !strings.HasPrefix(tok, "tsm_") {
		t.Fatalf("mfa_token %q", tok)
	}
	return tok
}

func (e *env) completeMFA(tok, method, code string, extra ...string) resp {
	body := map[string]string{"mfa_token": tok, "method": method, "code": code}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	return e.do(e.public, "POST", "/v1/login/mfa", body)
}

func TestMFALoginBothDeliveries(t *testing.T) {
	for _, cookie := range []bool{true, false} {
		t.Run(map[bool]string{true: "cookie", false: "token"}[cookie], func(t *testing.T) {
			e := newEnv(t)
			e.addUser("gina", pw)
			secret, codes, _ := e.enrollTOTP(t, e.login(cookie))
			delivery := map[bool]string{true: "cookie", false: "token"}[cookie]
			live, _ := e.st.CountLiveSessions(t.Context(), e.clock.Now())

			tok := e.challenge(t, map[string]string{"delivery": delivery})
			if n, _ := e.st.CountLiveSessions(t.Context(), e.clock.Now()); n != live {
				t.Fatalf("a challenge started a session: %d live, was %d", n, live)
			}
			// A wrong code: refused, the challenge lives on.
			wantProblem(t, e.completeMFA(tok, "totp", "000000"), http.StatusUnauthorized, "invalid_code")
			// The enrolling code's step was used: a replay is refused.
			wantProblem(t, e.completeMFA(tok, "totp", totpAt(t, secret, e.clock.Now())), http.StatusUnauthorized, "invalid_code")
			e.clock.Add(30 * time.Second)
			r := e.completeMFA(tok, "totp", totpAt(t, secret, e.clock.Now()))
			if r.StatusCode != http.StatusOK {
				t.Fatalf("complete: %d %s", r.StatusCode, r.body)
			}
			m := r.json(t)
			sess := m["session"].(map[string]any)
			if sess["aal"] != float64(2) || !sameAMR(sess["amr"], "pwd", "otp", "mfa") {
				t.Fatalf("session = %v", sess)
			}
			var c credential
			if cookie {
				c = credential{cookie: true, b: browser{cookie: r.cookie("__Host-tessera_session").Value, csrf: m["csrf_token"].(string)}}
			} else {
				c = credential{accessToken: m["access_token"].(string)}
				// The JWT carries the assurance (RFC 9068 §2.2.1, RFC 9470).
				claims := jwtClaims(t, c.accessToken)
				if claims.ACR != "aal2" || !slices.Equal(claims.AMR, []string{"pwd", "otp", "mfa"}) || claims.AuthTime != e.clock.Now().Unix() {
					t.Fatalf("JWT claims acr %q amr %v auth_time %d", claims.ACR, claims.AMR, claims.AuthTime)
				}
			}
			who := e.whoami(c.headers()...).json(t)["session"].(map[string]any)
			if who["aal"] != float64(2) || !sameAMR(who["amr"], "pwd", "otp", "mfa") {
				t.Fatalf("whoami session = %v", who)
			}
			// Single use: the same mfa_token cannot start a second session.
			e.clock.Add(30 * time.Second)
			wantProblem(t, e.completeMFA(tok, "totp", totpAt(t, secret, e.clock.Now())), http.StatusUnauthorized, "invalid_mfa_token")

			// A recovery code finishes a login once.
			tok = e.challenge(t, map[string]string{"delivery": delivery})
			if r := e.completeMFA(tok, "recovery_code", codes[0]); r.StatusCode != http.StatusOK {
				t.Fatalf("recovery code: %d %s", r.StatusCode, r.body)
			}
			tok = e.challenge(t, map[string]string{"delivery": delivery})
			wantProblem(t, e.completeMFA(tok, "recovery_code", codes[0]), http.StatusUnauthorized, "invalid_code")
		})
	}
}

func jwtClaims(t *testing.T, raw string) accesstoken.Claims {
	t.Helper()
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var c accesstoken.Claims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMFATokenLifecycle(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	secret, _, _ := e.enrollTOTP(t, e.login(true))
	next := func() string {
		e.clock.Add(30 * time.Second)
		return totpAt(t, secret, e.clock.Now())
	}

	t.Run("expired", func(t *testing.T) {
		tok := e.challenge(t, map[string]string{})
		e.clock.Add(5*time.Minute + time.Second)
		wantProblem(t, e.completeMFA(tok, "totp", totpAt(t, secret, e.clock.Now())), http.StatusUnauthorized, "invalid_mfa_token")
	})
	t.Run("too many failures", func(t *testing.T) {
		tok := e.challenge(t, map[string]string{})
		for range 5 {
			wantProblem(t, e.completeMFA(tok, "totp", "000001"), http.StatusUnauthorized, "invalid_code")
		}
		wantProblem(t, e.completeMFA(tok, "totp", next()), http.StatusUnauthorized, "invalid_mfa_token")
	})
	t.Run("wrong delivery", func(t *testing.T) {
		tok := e.challenge(t, map[string]string{"delivery": "cookie"})
		// A token obtained for a browser cookie cannot become API tokens.
		wantProblem(t, e.completeMFA(tok, "totp", next(), "delivery", "token"), http.StatusUnauthorized, "invalid_mfa_token")
		r := e.completeMFA(tok, "totp", totpAt(t, secret, e.clock.Now()), "delivery", "cookie")
		if r.StatusCode != http.StatusOK || r.cookie("__Host-tessera_session") == nil || r.json(t)["access_token"] != nil {
			t.Fatalf("completion with the bound delivery: %d %s", r.StatusCode, r.body)
		}
	})
	t.Run("delivery comes from the password step", func(t *testing.T) {
		tok := e.challenge(t, map[string]string{"delivery": "token"})
		r := e.completeMFA(tok, "totp", next())
		if r.StatusCode != http.StatusOK || r.json(t)["access_token"] == nil || r.cookie("__Host-tessera_session") != nil {
			t.Fatalf("completion: %d %s", r.StatusCode, r.body)
		}
	})
	t.Run("garbage and unknown", func(t *testing.T) {
		wantProblem(t, e.completeMFA("tsm_nope", "totp", "123456"), http.StatusUnauthorized, "invalid_mfa_token")
		wantProblem(t, e.completeMFA("tss_"+strings.Repeat("A", 49), "totp", "123456"), http.StatusUnauthorized, "invalid_mfa_token")
		wantProblem(t, e.completeMFA(e.challenge(t, map[string]string{}), "sms", "123456"), http.StatusBadRequest, "invalid_method")
		wantProblem(t, e.do(e.public, "POST", "/v1/login/mfa", map[string]string{"mfa_token": "x"}), http.StatusBadRequest, "missing_field")
	})
	t.Run("cross-origin browser", func(t *testing.T) {
		tok := e.challenge(t, map[string]string{})
		r := e.do(e.public, "POST", "/v1/login/mfa", map[string]string{"mfa_token": tok, "method": "totp", "code": next()},
			"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		wantProblem(t, r, http.StatusForbidden, "csrf")
	})
}

// TestStepUp: sensitive actions need a recent authentication (RFC 9470
// challenge), and POST /v1/reauth renews the session, for both deliveries.
func TestStepUp(t *testing.T) {
	for _, cookie := range []bool{true, false} {
		t.Run(map[bool]string{true: "cookie", false: "token"}[cookie], func(t *testing.T) {
			e := newEnv(t)
			e.addUser("gina", pw)
			c := e.login(cookie)
			e.clock.Add(10*time.Minute + time.Second)
			for _, rq := range []struct{ method, path string }{
				{"POST", "/v1/mfa/totp"}, {"POST", "/v1/mfa/recovery-codes"}, {"DELETE", "/v1/mfa/totp"}, {"POST", "/v1/password"},
			} {
				r := e.do(e.public, rq.method, rq.path, map[string]string{}, c.headers()...)
				wantProblem(t, r, http.StatusUnauthorized, "insufficient_user_authentication")
				if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `error="insufficient_user_authentication"`) || !strings.Contains(h, "max_age=600") {
					t.Fatalf("%s %s: WWW-Authenticate %q", rq.method, rq.path, h)
				}
			}
			before := e.whoami(c.headers()...).json(t)["session"].(map[string]any)
			wantProblem(t, e.do(e.public, "POST", "/v1/reauth", map[string]string{"method": "password", "password": "wrong password!"}, c.headers()...), http.StatusForbidden, "invalid_credentials")
			r := e.do(e.public, "POST", "/v1/reauth", map[string]string{"method": "password", "password": pw}, c.headers()...)
			c2 := renewed(t, c, r)
			if r := e.whoami(c.headers()...); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("credential from before the step-up: %d", r.StatusCode)
			}
			after := e.whoami(c2.headers()...).json(t)["session"].(map[string]any)
			if after["auth_time"] == before["auth_time"] || after["id"] == before["id"] || after["aal"] != float64(1) {
				t.Fatalf("step-up: before %v, after %v", before, after)
			}
			// Now recent: enrollment is allowed, and raises the session to AAL2.
			secret, _, c3 := e.enrollTOTP(t, c2)
			// Stale again: a TOTP step-up keeps AAL2 and renews once more.
			e.clock.Add(11 * time.Minute)
			wantProblem(t, e.do(e.public, "POST", "/v1/mfa/recovery-codes", nil, c3.headers()...), http.StatusUnauthorized, "insufficient_user_authentication")
			r = e.do(e.public, "POST", "/v1/reauth", map[string]string{"method": "totp", "code": totpAt(t, secret, e.clock.Now())}, c3.headers()...)
			c4 := renewed(t, c3, r)
			if s := r.json(t)["session"].(map[string]any); s["aal"] != float64(2) || !sameAMR(s["amr"], "pwd", "otp", "mfa") {
				t.Fatalf("after a TOTP step-up: %v", s)
			}
			r = e.do(e.public, "POST", "/v1/mfa/recovery-codes", nil, c4.headers()...)
			if r.StatusCode != http.StatusOK || len(r.json(t)["recovery_codes"].([]any)) != 10 {
				t.Fatalf("regenerate: %d %s", r.StatusCode, r.body)
			}
		})
	}
}

// TestRemovingLastFactorRevokesEverySession: every session of the user
// ends, of both deliveries; the remover gets a fresh AAL1 one.
func TestRemovingLastFactorRevokesEverySession(t *testing.T) {
	for _, cookie := range []bool{true, false} {
		t.Run(map[bool]string{true: "cookie", false: "token"}[cookie], func(t *testing.T) {
			e := newEnv(t)
			e.addUser("gina", pw)
			secret, _, c := e.enrollTOTP(t, e.login(cookie))
			e.clock.Add(30 * time.Second)
			other := e.completeMFA(e.challenge(t, map[string]string{"delivery": "token"}), "totp", totpAt(t, secret, e.clock.Now())).json(t)["access_token"].(string)
			r := e.do(e.public, "DELETE", "/v1/mfa/totp", nil, c.headers()...)
			fresh := renewed(t, c, r)
			if s := r.json(t)["session"].(map[string]any); s["aal"] != float64(1) || !sameAMR(s["amr"], "pwd") {
				t.Fatalf("session after removing TOTP: %v", s)
			}
			for name, h := range map[string][]string{"remover's old": c.headers(), "other": bearer(other)} {
				if r := e.whoami(h...); r.StatusCode != http.StatusUnauthorized {
					t.Fatalf("%s session after removing the last factor: %d", name, r.StatusCode)
				}
			}
			if r := e.whoami(fresh.headers()...); r.StatusCode != http.StatusOK {
				t.Fatalf("fresh session: %d", r.StatusCode)
			}
			// No factor: the password alone logs in again.
			if r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "gina", "password": pw}); r.json(t)["mfa_required"] != nil {
				t.Fatalf("login after removal: %s", r.body)
			}
		})
	}
}

func TestAdminMFAReset(t *testing.T) {
	e := newEnv(t)
	id := e.addUser("gina", pw)
	secret, _, c := e.enrollTOTP(t, e.login(true))
	e.clock.Add(30 * time.Second)
	other := e.completeMFA(e.challenge(t, map[string]string{"delivery": "token"}), "totp", totpAt(t, secret, e.clock.Now())).json(t)["access_token"].(string)
	if r := e.adminDo("DELETE", "/admin/v1/users/nobody/mfa", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("reset of an unknown user: %d", r.StatusCode)
	}
	r := e.adminDo("DELETE", "/admin/v1/users/"+id+"/mfa", nil)
	if r.StatusCode != http.StatusOK || r.json(t)["sessions_revoked"] != float64(2) {
		t.Fatalf("reset: %d %s", r.StatusCode, r.body)
	}
	for _, h := range [][]string{c.headers(), bearer(other)} {
		if r := e.whoami(h...); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("session after an admin reset: %d", r.StatusCode)
		}
	}
	st := e.do(e.public, "GET", "/v1/mfa", nil, e.login(true).headers()...).json(t)
	if st["totp"].(map[string]any)["enabled"] != false || st["recovery_codes_remaining"] != float64(0) {
		t.Fatalf("factors after reset: %v", st)
	}
}

func TestMFARequiredPolicy(t *testing.T) {
	e := newEnv(t)
	e.withPolicy(authflow.MFAPolicy{Required: true})
	e.addUser("gina", pw)
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "gina", "password": pw})
	if r.StatusCode != http.StatusOK || r.json(t)["mfa_enrollment_required"] != true {
		t.Fatalf("login without a factor under required MFA: %d %s", r.StatusCode, r.body)
	}
	c := credential{cookie: true, b: browser{cookie: r.cookie("__Host-tessera_session").Value, csrf: r.json(t)["csrf_token"].(string)}}
	wantProblem(t, e.do(e.public, "GET", "/v1/sessions", nil, c.headers()...), http.StatusForbidden, "mfa_enrollment_required")
	if r := e.whoami(c.headers()...); r.StatusCode != http.StatusOK {
		t.Fatalf("whoami of an enrollment-only session: %d", r.StatusCode)
	}
	_, _, c2 := e.enrollTOTP(t, c)
	if r := e.do(e.public, "GET", "/v1/sessions", nil, c2.headers()...); r.StatusCode != http.StatusOK {
		t.Fatalf("sessions list at AAL2: %d %s", r.StatusCode, r.body)
	}
}

func TestMFAStatusAndMethodsPolicy(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	_, codes, c := e.enrollTOTP(t, e.login(true))
	st := e.do(e.public, "GET", "/v1/mfa", nil, c.headers()...).json(t)
	if st["totp"].(map[string]any)["enabled"] != true || st["recovery_codes_remaining"] != float64(10) || !sameAMR(st["methods"], "totp", "recovery_code") {
		t.Fatalf("GET /v1/mfa = %v", st)
	}
	// A policy allowing TOTP only refuses recovery codes at login.
	e.withPolicy(authflow.MFAPolicy{Methods: []mfa.Method{mfa.TOTP}})
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "gina", "password": pw})
	m := r.json(t)
	if !sameAMR(m["methods"], "totp") {
		t.Fatalf("methods under a totp-only policy: %s", r.body)
	}
	wantProblem(t, e.completeMFA(m["mfa_token"].(string), "recovery_code", codes[0]), http.StatusBadRequest, "invalid_method")
}

// TestDatabaseHoldsNoSecondFactorSecret: neither the TOTP secret, nor a
// recovery code, nor an mfa_token is in the database files or the log.
func TestDatabaseHoldsNoSecondFactorSecret(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	secret, codes, _ := e.enrollTOTP(t, e.login(true))
	secrets := append([]string{secret}, codes...)
	for _, c := range codes {
		secrets = append(secrets, strings.ReplaceAll(c, "-", ""))
	}
	tok := e.challenge(t, map[string]string{})
	secrets = append(secrets, tok, tok[4:])
	e.completeMFA(tok, "recovery_code", codes[0])
	files, _ := filepath.Glob(e.dbPath + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("%s holds a second-factor secret", filepath.Base(f))
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(e.logs.String(), s) {
			t.Fatal("the log holds a second-factor secret")
		}
	}
}

// TestSecondFactorThrottle: failures drain the per-user bucket across
// challenges; then even the right code is refused unchecked with 429.
func TestSecondFactorThrottle(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	secret, _, _ := e.enrollTOTP(t, e.login(true))
	failures := 0
	for failures < 10 { // mfa.Service's default per-user burst
		tok := e.challenge(t, map[string]string{})
		for range 5 {
			if failures == 10 {
				break
			}
			wantProblem(t, e.completeMFA(tok, "totp", "000002"), http.StatusUnauthorized, "invalid_code")
			failures++
		}
	}
	e.clock.Add(30 * time.Second)
	r := e.completeMFA(e.challenge(t, map[string]string{}), "totp", totpAt(t, secret, e.clock.Now()))
	wantProblem(t, r, http.StatusTooManyRequests, "too_many_attempts")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	metrics := string(e.do(e.admin, "GET", "/metrics", nil).body)
	for _, want := range []string{
		`tessera_second_factor_total{method="totp",outcome="bad_code"} 10`,
		`tessera_second_factor_total{method="totp",outcome="throttled"} 1`,
		`tessera_second_factor_total{method="",outcome="challenged"} 3`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(metrics, "second_factor"))
		}
	}
}

// TestGoldenMFA pins the second-factor answers: the login challenge, the
// completed login at AAL2, the factor status and the step-up problem.
func TestGoldenMFA(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	secret, _, c := e.enrollTOTP(t, e.login(true))
	status := e.do(e.public, "GET", "/v1/mfa", nil, c.headers()...)
	challenge := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "gina", "password": pw, "delivery": "cookie"})
	e.clock.Add(30 * time.Second)
	done := e.completeMFA(challenge.json(t)["mfa_token"].(string), "totp", totpAt(t, secret, e.clock.Now()))
	e.clock.Add(11 * time.Minute)
	stepUp := e.do(e.public, "POST", "/v1/mfa/recovery-codes", nil, c.headers()...)
	n := newNormalizer()
	for _, tc := range []struct {
		name   string
		r      resp
		status int
		ct     string
	}{
		{"mfa-status", status, 200, "application/json"},
		{"login-mfa-challenge", challenge, 200, "application/json"},
		{"login-mfa-complete", done, 200, "application/json"},
		{"error-step-up", stepUp, 401, "application/problem+json"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkGolden(t, n, tc.name, tc.r, tc.status, tc.ct) })
	}
}

// TestStepUpKeepsTheClient: a public client's tokens renewed by a
// step-up are still that client's, so it keeps refreshing them; the old
// refresh token dies with the old session.
func TestStepUpKeepsTheClient(t *testing.T) {
	for _, format := range []string{"jwt", "opaque"} {
		t.Run(format, func(t *testing.T) {
			e := newEnv(t)
			e.addUser("gina", pw)
			spa, _ := e.addClient(map[string]any{"name": "spa", "public": true, "first_party": true, "grants": []string{"refresh_token"}, "token_format": format})
			at, rt := e.loginTokens("gina", map[string]string{"client_id": spa})
			e.clock.Add(11 * time.Minute)
			r := e.do(e.public, "POST", "/v1/reauth", map[string]string{"method": "password", "password": pw}, bearer(at)...)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("reauth: %d %s", r.StatusCode, r.body)
			}
			m := r.json(t)
			at2, rt2 := m["access_token"].(string), m["refresh_token"].(string)
			if format == "jwt" {
				if c := jwtClaims(t, at2); c.ClientID != spa {
					t.Fatalf("renewed access token for client %q, want %q", c.ClientID, spa)
				}
			}
			if r := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}, "client_id": {spa}}); r.StatusCode != http.StatusOK {
				t.Fatalf("the client refreshing its renewed token: %d %s", r.StatusCode, r.body)
			}
			wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}}), http.StatusBadRequest, "invalid_grant")
			// A password change is not another client's to make, even
			// right after a step-up (issue 10, L14): only the user's own
			// login may, since its answer is a fresh first-party session.
			r = e.do(e.public, "POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "another long passphrase"}, bearer(at2)...)
			wantProblem(t, r, http.StatusForbidden, "insufficient_scope")
		})
	}
}

// TestThirdPartyCannotManageFactors: a second factor's enrollment,
// removal and recovery codes, and a step-up, are the user's own login's
// or a first-party client's (RFC 9700 §2.4: a third party never handles
// the user's credentials). A token of a client an administrator no
// longer counts as first party is refused before anything changes:
// before, it was handed fresh recovery codes, and removing TOTP ended
// every session and dropped the factor before the renewal failed.
func TestThirdPartyCannotManageFactors(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	app, _ := e.addClient(map[string]any{"name": "app", "public": true, "first_party": true, "grants": []string{"refresh_token"}})
	at, _ := e.loginTokens("gina", map[string]string{"client_id": app})
	_, _, c := e.enrollTOTP(t, e.login(true))
	if r := e.do(e.public, "POST", "/v1/mfa/recovery-codes", nil, bearer(at)...); r.StatusCode != http.StatusOK {
		t.Fatalf("first-party client's recovery codes: %d %s", r.StatusCode, r.body)
	}
	if r := e.adminDo("PATCH", "/admin/v1/clients/"+app, map[string]any{"first_party": false}); r.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %s", r.StatusCode, r.body)
	}
	for _, q := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/mfa/recovery-codes", nil},
		{"DELETE", "/v1/mfa/totp", nil},
		{"POST", "/v1/mfa/totp", nil},
		{"POST", "/v1/mfa/totp/confirm", map[string]string{"code": "000000"}},
		{"POST", "/v1/reauth", map[string]string{"method": "password", "password": pw}},
	} {
		r := e.do(e.public, q.method, q.path, q.body, bearer(at)...)
		wantProblem(t, r, http.StatusForbidden, "insufficient_scope")
		if strings.Contains(string(r.body), "recovery_codes") {
			t.Fatalf("%s %s answered credentials: %s", q.method, q.path, r.body)
		}
	}
	// Nothing changed: the factor is on, the browser session lives.
	r := e.do(e.public, "GET", "/v1/mfa", nil, c.headers()...)
	if r.StatusCode != http.StatusOK || !strings.Contains(string(r.body), `"enabled":true`) {
		t.Fatalf("mfa status after the refusals: %d %s", r.StatusCode, r.body)
	}
}
