package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/clientip"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/keys/keystest"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/passkey"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/token"
)

const adminToken = "tsx_test-admin-token"

// env is a real server on real listeners over a real SQLite file.
type env struct {
	t        testing.TB
	clock    *clocktest.Clock
	dbPath   string
	st       *sqlite.Store
	srv      *Server
	sessions *session.Manager
	public   *httptest.Server
	admin    *httptest.Server
	logs     *bytes.Buffer
	events   *event.Fanout
	mfa      *mfa.Service
}

type envOption func(*Config, *session.Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "tessera.db")
	st, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := clocktest.New(time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
	cfg := Config{AdminToken: adminToken, PublicOrigin: "https://auth.example.test"}
	scfg := session.Config{
		IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, MaxPerUser: 10,
		TouchInterval: time.Minute, RevocationPoll: time.Second, CacheSize: 1000, Now: c.Now,
	}
	for _, o := range opts {
		o(&cfg, &scfg)
	}
	metrics := NewMetrics(func(ctx context.Context) (int, error) { return st.CountLiveSessions(ctx, c.Now()) }, nil)
	events := event.NewFanout(nil)
	events.Subscribe(metrics, metrics.Kinds()...)
	scfg.Events = events
	sm := session.New(st, scfg)
	// Cheap argon2 parameters keep the suite fast; the real cost is benchmarked.
	h, err := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	an := authn.New(st, h, password.DefaultPolicy(), authn.Limits{
		PerIPBurst: 20, PerIPRefill: 6 * time.Second,
		PerAccountIPBurst: 5, PerAccountIPRefill: time.Minute,
		PerAccountBurst: 50, PerAccountRefill: 30 * time.Second,
	}, c.Now, nil, events)
	ips, _ := clientip.New([]string{"127.0.0.0/8", "::1/128"}, clientip.XForwardedFor)
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.LogRequests = true
	cfg.Events = events
	el := event.NewLogger(log)
	events.Subscribe(el, el.Kinds()...)
	ks := keystest.New(t, st, keys.Config{Alg: "ES256", RetiredTTL: time.Hour, Now: c.Now, Events: events})
	oa := oauth.New(st, ks, oauth.Config{
		Issuer: "https://auth.example.test", Audience: "https://auth.example.test",
		Access: 15 * time.Minute, Refresh: 7 * 24 * time.Hour, Grace: 5 * time.Second,
		Pepper: []byte("test-pepper"), Now: c.Now,
		Events: events, Sessions: sm,
	})
	verifier := &accesstoken.Verifier{
		Issuer: "https://auth.example.test", Audience: "", // tokenstate judges the audience (OAuthConfig.Audience)
		Algorithms: []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256},
		Keys: func(kid string) (*jose.JSONWebKey, error) {
			k, err := ks.PublicKey(kid)
			if err != nil {
				return nil, accesstoken.ErrUnknownKey
			}
			return k, nil
		},
		Now: c.Now,
	}
	srv := New(cfg, st, sm, an, ips, metrics, log, c.Now).WithKeys(ks).
		WithOAuth(oa, verifier, OAuthConfig{Issuer: "https://auth.example.test", Audience: "https://auth.example.test", AccessTTL: 15 * time.Minute, SessionIdle: 7 * 24 * time.Hour, SessionAbsolute: 14 * 24 * time.Hour}, st)
	// Second factors are on, as production wires them.
	mk, _, err := keys.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: c, dbPath: dbPath, st: st, srv: srv, sessions: sm, logs: logs, events: events}
	pk, err := passkey.New(st, st, passkey.Config{RPID: "auth.example.test", Origins: []string{"https://auth.example.test"}, Events: events, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.mfa = mfa.New(st, mk, mfa.Config{Now: c.Now, Events: events, Factors: []mfa.Factor{pk}})
	srv.WithMFA(e.mfa, st, authflow.MFAPolicy{}).WithWebAuthn(pk, e.mfa)
	e.public = httptest.NewServer(srv.Public())
	e.admin = httptest.NewServer(srv.Admin())
	t.Cleanup(e.public.Close)
	t.Cleanup(e.admin.Close)
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

type resp struct {
	*http.Response
	body []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not JSON (%d): %q", r.StatusCode, r.body)
	}
	return m
}

func (r resp) cookie(name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// do sends a request. Headers come in name, value pairs.
func (e *env) do(base *httptest.Server, method, path string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res, b}
}

func (e *env) adminDo(method, path string, body any) resp {
	e.t.Helper()
	return e.do(e.admin, method, path, body, "Authorization", "Bearer "+adminToken)
}

func (e *env) addUser(name, pw string) string {
	e.t.Helper()
	r := e.adminDo("POST", "/admin/v1/users", map[string]string{"username": name, "password": pw})
	if r.StatusCode != http.StatusCreated {
		e.t.Fatalf("create user: %d %s", r.StatusCode, r.body)
	}
	return r.json(e.t)["id"].(string)
}

// browser is a cookie session as a browser holds it.
type browser struct {
	cookie, csrf string
}

func (b browser) headers(extra ...string) []string {
	h := []string{"Cookie", "__Host-tessera_session=" + b.cookie, "X-CSRF-Token", b.csrf,
		"Origin", "https://auth.example.test", "Sec-Fetch-Site", "same-origin"}
	return append(h, extra...)
}

func (e *env) loginCookie(name, pw string, headers ...string) browser {
	e.t.Helper()
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": name, "password": pw}, headers...)
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	c := r.cookie("__Host-tessera_session")
	if c == nil {
		e.t.Fatal("login set no session cookie")
	}
	return browser{cookie: c.Value, csrf: r.json(e.t)["csrf_token"].(string)}
}

func (e *env) loginToken(name, pw string, headers ...string) string {
	e.t.Helper()
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": name, "password": pw, "delivery": "token"}, headers...)
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	return r.json(e.t)["access_token"].(string)
}

func (e *env) whoami(headers ...string) resp {
	e.t.Helper()
	return e.do(e.public, "GET", "/v1/session", nil, headers...)
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func wantProblem(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, status, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	m := r.json(t)
	if m["code"] != code || m["status"] != float64(status) || m["type"] == "" || m["title"] == "" {
		t.Fatalf("problem %v, want code %q", m, code)
	}
}

const pw = "correct horse battery staple"

func TestCookieLoginFlow(t *testing.T) {
	e := newEnv(t)
	uid := e.addUser("alice", pw)
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "Alice", "password": pw, "delivery": "cookie"})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	raw := r.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-tessera_session=tss_", "Path=/", "Secure", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(raw, want) {
			t.Errorf("Set-Cookie %q lacks %q", raw, want)
		}
	}
	for _, bad := range []string{"Domain", "Max-Age", "Expires"} {
		if strings.Contains(raw, bad) {
			t.Errorf("Set-Cookie %q has %s", raw, bad)
		}
	}
	c := r.cookie("__Host-tessera_session")
	if bytes.Contains(r.body, []byte(c.Value)) || bytes.Contains(r.body, []byte("access_token")) {
		t.Fatal("cookie delivery put the token in the body")
	}
	body := r.json(t)
	sess := body["session"].(map[string]any)
	if sess["user_id"] != uid || sess["aal"] != float64(1) || sess["amr"].([]any)[0] != "pwd" {
		t.Fatalf("login session: %v", sess)
	}
	if sess["expires_at"] != "2026-06-01T20:00:00Z" || sess["idle_expires_at"] != "2026-06-01T08:30:00Z" {
		t.Fatalf("expiries: %v", sess)
	}
	b := browser{cookie: c.Value, csrf: body["csrf_token"].(string)}

	w := e.whoami("Cookie", "__Host-tessera_session="+b.cookie)
	if w.StatusCode != http.StatusOK {
		t.Fatalf("whoami: %d %s", w.StatusCode, w.body)
	}
	wb := w.json(t)
	if wb["user"].(map[string]any)["username"] != "alice" || wb["session"].(map[string]any)["id"] != sess["id"] || wb["csrf_token"] != b.csrf {
		t.Fatalf("whoami: %v", wb)
	}
	if w.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("whoami is cacheable")
	}

	// Logout without the CSRF token is refused and changes nothing.
	wantProblem(t, e.do(e.public, "POST", "/v1/logout", nil, b.headers("X-CSRF-Token", "")...), 403, "csrf")
	if e.whoami("Cookie", "__Host-tessera_session="+b.cookie).StatusCode != 200 {
		t.Fatal("refused logout ended the session")
	}
	out := e.do(e.public, "POST", "/v1/logout", nil, b.headers()...)
	if out.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", out.StatusCode, out.body)
	}
	if out.Header.Get("Clear-Site-Data") == "" {
		t.Fatal("logout sent no Clear-Site-Data")
	}
	if cl := out.cookie("__Host-tessera_session"); cl == nil || cl.MaxAge >= 0 || cl.Value != "" {
		t.Fatalf("logout did not clear the cookie: %+v", cl)
	}
	w = e.whoami("Cookie", "__Host-tessera_session="+b.cookie)
	wantProblem(t, w, 401, "invalid_token")
	if w.cookie("__Host-tessera_session") == nil {
		t.Fatal("a dead cookie was not cleared")
	}
}

func TestTokenDeliveryAndBearer(t *testing.T) {
	e := newEnv(t)
	e.addUser("bob", pw)
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "bob", "password": pw, "delivery": "token"})
	if r.StatusCode != 200 || len(r.Cookies()) != 0 {
		t.Fatalf("token login: %d, cookies %v", r.StatusCode, r.Cookies())
	}
	body := r.json(t)
	tok, _ := body["access_token"].(string)
	rt, _ := body["refresh_token"].(string)
	if strings.Count(tok, ".") != 2 || !strings.HasPrefix(rt, "tsr_") || body["token_type"] != "Bearer" || body["expires_in"] != float64(900) {
		t.Fatalf("token login body: %v", body)
	}
	if sess := body["session"].(map[string]any); sess["idle_expires_at"] != "2026-06-08T08:00:00Z" || sess["expires_at"] != "2026-06-15T08:00:00Z" {
		t.Fatalf("a token session lives by the token policy: %v", sess)
	}
	if _, ok := body["csrf_token"]; ok {
		t.Fatal("bearer delivery has no use for a CSRF token")
	}
	if w := e.whoami(bearer(tok)...); w.StatusCode != 200 {
		t.Fatalf("whoami by bearer: %d %s", w.StatusCode, w.body)
	}
	// Bearer-authenticated changes need no CSRF token: no ambient credential.
	if r := e.do(e.public, "POST", "/v1/sessions/revoke-others", nil, bearer(tok)...); r.StatusCode != 200 {
		t.Fatalf("bearer POST: %d %s", r.StatusCode, r.body)
	}

	tests := []struct {
		name    string
		path    string
		headers []string
		status  int
		code    string
		www     string
	}{
		{"no credential", "/v1/session", nil, 401, "unauthenticated", `Bearer realm="tessera"`},
		{"bad token", "/v1/session", bearer("tss_nope"), 401, "invalid_token", `Bearer realm="tessera", error="invalid_token"`},
		// Another scheme is no bearer credential (RFC 6750 §3.1: no error code).
		{"not bearer", "/v1/session", []string{"Authorization", "Basic Ym9iOnB3"}, 401, "unauthenticated", `Bearer realm="tessera"`},
		// A malformed Bearer header is a malformed request: 400 (RFC 6750 §3.1; issue 10, L13).
		{"bad b64token", "/v1/session", []string{"Authorization", "Bearer a b"}, 400, "invalid_request", `Bearer realm="tessera", error="invalid_request"`},
		{"bearer without token", "/v1/session", []string{"Authorization", "Bearer"}, 400, "invalid_request", `Bearer realm="tessera", error="invalid_request"`},
		{"bearer with blank token", "/v1/session", []string{"Authorization", "Bearer   "}, 400, "invalid_request", `Bearer realm="tessera", error="invalid_request"`},
		{"bearer bad character", "/v1/session", []string{"Authorization", "Bearer tss_a%b"}, 400, "invalid_request", `Bearer realm="tessera", error="invalid_request"`},
		{"oversized", "/v1/session", bearer(strings.Repeat("A", 4000)), 401, "invalid_token", `Bearer realm="tessera", error="invalid_token"`},
		{"query token", "/v1/session?access_token=" + tok, nil, 400, "invalid_request", `Bearer realm="tessera", error="invalid_request"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(e.public, "GET", tt.path, nil, tt.headers...)
			wantProblem(t, r, tt.status, tt.code)
			if got := r.Header.Get("WWW-Authenticate"); got != tt.www {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.www)
			}
		})
	}
	t.Run("form body token", func(t *testing.T) {
		r := e.do(e.public, "POST", "/v1/logout", "access_token="+tok, "Content-Type", "application/x-www-form-urlencoded")
		wantProblem(t, r, 400, "invalid_request")
		if e.whoami(bearer(tok)...).StatusCode != 200 {
			t.Fatal("a refused form-body logout ended the session")
		}
	})
}

func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t)
	e.addUser("carol", pw)
	wrong := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "carol", "password": "not the password"})
	unknown := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "mallory", "password": "not the password"})
	invalid := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "no spaces allowed", "password": "x"})
	for _, r := range []resp{wrong, unknown, invalid} {
		wantProblem(t, r, 401, "invalid_credentials")
		if !bytes.Equal(r.body, wrong.body) {
			t.Fatalf("bodies differ:\n%s\n%s", r.body, wrong.body)
		}
		for _, h := range []string{"Content-Type", "WWW-Authenticate", "Cache-Control", "Set-Cookie"} {
			if r.Header.Get(h) != wrong.Header.Get(h) {
				t.Fatalf("header %s differs: %q vs %q", h, r.Header.Get(h), wrong.Header.Get(h))
			}
		}
	}
	if strings.Contains(e.logs.String(), "not the password") {
		t.Fatal("a password reached the log")
	}
}

func TestLoginThrottling(t *testing.T) {
	e := newEnv(t)
	e.addUser("dave", pw)
	attacker := []string{"X-Forwarded-For", "198.51.100.66"}
	login := func(password string, headers []string) resp {
		return e.do(e.public, "POST", "/v1/login", map[string]string{"username": "dave", "password": password}, headers...)
	}
	for i := range 5 {
		if r := login("wrong password!", attacker); r.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i, r.StatusCode)
		}
	}
	r := login("wrong password!", attacker)
	wantProblem(t, r, 429, "too_many_attempts")
	if r.Header.Get("Retry-After") != "60" {
		t.Fatalf("Retry-After %q, want 60", r.Header.Get("Retry-After"))
	}
	// Even the right password is refused from the throttled address...
	wantProblem(t, login(pw, attacker), 429, "too_many_attempts")
	// ...but the real user elsewhere is not locked out.
	if r := login(pw, []string{"X-Forwarded-For", "203.0.113.7"}); r.StatusCode != 200 {
		t.Fatalf("user from another IP: %d %s", r.StatusCode, r.body)
	}
	// And the throttle ends by itself.
	e.clock.Add(time.Minute)
	if r := login(pw, attacker); r.StatusCode != 200 {
		t.Fatalf("after the refill period: %d %s", r.StatusCode, r.body)
	}
}

func TestPerIPThrottleAcrossAccounts(t *testing.T) {
	e := newEnv(t)
	ip := []string{"X-Forwarded-For", "198.51.100.99"}
	for i := range 20 {
		r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "user" + string(rune('a'+i)), "password": "guess guess"}, ip...)
		if r.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "someone", "password": "guess guess"}, ip...)
	wantProblem(t, r, 429, "too_many_attempts")
}

func TestTimeouts(t *testing.T) {
	e := newEnv(t)
	e.addUser("erin", pw)
	cookie := func(b browser) []string { return []string{"Cookie", "__Host-tessera_session=" + b.cookie} }
	b := e.loginCookie("erin", pw)
	for i := range 4 {
		e.clock.Add(25 * time.Minute)
		if r := e.whoami(cookie(b)...); r.StatusCode != 200 {
			t.Fatalf("active use %d: %d", i, r.StatusCode)
		}
	}
	e.clock.Add(31 * time.Minute)
	wantProblem(t, e.whoami(cookie(b)...), 401, "invalid_token")

	b = e.loginCookie("erin", pw)
	for range 12*60/20 - 1 {
		e.clock.Add(20 * time.Minute)
		if r := e.whoami(cookie(b)...); r.StatusCode != 200 {
			t.Fatalf("before absolute expiry: %d", r.StatusCode)
		}
	}
	e.clock.Add(20 * time.Minute)
	wantProblem(t, e.whoami(cookie(b)...), 401, "invalid_token")
}

// TestAccessTokenLifetime: a JWT access token dies at its exp even while
// its session lives; a refresh brings a new one.
func TestAccessTokenLifetime(t *testing.T) {
	e := newEnv(t)
	e.addUser("fay", pw)
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "fay", "password": pw, "delivery": "token"})
	m := r.json(t)
	at, rt := m["access_token"].(string), m["refresh_token"].(string)
	e.clock.Add(14 * time.Minute)
	if e.whoami(bearer(at)...).StatusCode != 200 {
		t.Fatal("access token refused before exp")
	}
	e.clock.Add(2 * time.Minute)
	wantProblem(t, e.whoami(bearer(at)...), 401, "invalid_token")
	r = e.do(e.public, "POST", "/oauth2/token", "grant_type=refresh_token&refresh_token="+rt, "Content-Type", "application/x-www-form-urlencoded")
	if r.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.body)
	}
	if e.whoami(bearer(r.json(t)["access_token"].(string))...).StatusCode != 200 {
		t.Fatal("refreshed access token refused")
	}
}

func TestSessionsListAndRevoke(t *testing.T) {
	e := newEnv(t)
	e.addUser("frank", pw)
	e.addUser("grace", pw)
	b := e.loginCookie("frank", pw, "User-Agent", "Firefox/140")
	phone := e.loginToken("frank", pw, "User-Agent", "Phone/1")
	laptop := e.loginToken("frank", pw)
	graces := e.loginToken("grace", pw)

	r := e.do(e.public, "GET", "/v1/sessions", nil, b.headers()...)
	if r.StatusCode != 200 {
		t.Fatalf("list: %d %s", r.StatusCode, r.body)
	}
	list := r.json(t)["sessions"].([]any)
	if len(list) != 3 {
		t.Fatalf("%d sessions listed, want 3", len(list))
	}
	var currentID, phoneID string
	for _, x := range list {
		m := x.(map[string]any)
		if m["current"] == true {
			currentID = m["id"].(string)
			if m["user_agent"] != "Firefox/140" || m["ip"] != "127.0.0.1" {
				t.Fatalf("current session: %v", m)
			}
		}
		if m["user_agent"] == "Phone/1" {
			phoneID = m["id"].(string)
		}
		for _, k := range []string{"created_at", "last_seen_at", "expires_at", "idle_expires_at"} {
			if m[k] == nil {
				t.Fatalf("session lacks %s: %v", k, m)
			}
		}
	}
	if currentID == "" || phoneID == "" {
		t.Fatalf("list: %v", list)
	}

	// Grace cannot see or touch Frank's sessions.
	wantProblem(t, e.do(e.public, "DELETE", "/v1/sessions/"+phoneID, nil, bearer(graces)...), 404, "not_found")
	if e.whoami(bearer(phone)...).StatusCode != 200 {
		t.Fatal("another user revoked a session")
	}
	wantProblem(t, e.do(e.public, "DELETE", "/v1/sessions/"+phoneID, nil, b.headers("X-CSRF-Token", "wrong")...), 403, "csrf")
	if r := e.do(e.public, "DELETE", "/v1/sessions/"+phoneID, nil, b.headers()...); r.StatusCode != 204 {
		t.Fatalf("revoke phone: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.whoami(bearer(phone)...), 401, "invalid_token")
	wantProblem(t, e.do(e.public, "DELETE", "/v1/sessions/no-such-id", nil, b.headers()...), 404, "not_found")

	r = e.do(e.public, "POST", "/v1/sessions/revoke-others", nil, b.headers()...)
	if r.StatusCode != 200 || r.json(t)["revoked"] != float64(1) {
		t.Fatalf("revoke-others: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.whoami(bearer(laptop)...), 401, "invalid_token")
	if e.whoami("Cookie", "__Host-tessera_session="+b.cookie).StatusCode != 200 {
		t.Fatal("revoke-others ended the current session")
	}
	if e.whoami(bearer(graces)...).StatusCode != 200 {
		t.Fatal("revoke-others ended another user's session")
	}
	// Revoking the current session by id ends it and clears the cookie.
	r = e.do(e.public, "DELETE", "/v1/sessions/"+currentID, nil, b.headers()...)
	if r.StatusCode != 204 || r.cookie("__Host-tessera_session") == nil {
		t.Fatalf("revoke current: %d, cookies %v", r.StatusCode, r.Cookies())
	}
}

func TestPasswordChange(t *testing.T) {
	e := newEnv(t)
	e.addUser("heidi", pw)
	b := e.loginCookie("heidi", pw)
	other := e.loginToken("heidi", pw)
	const newPW = "a much better passphrase"

	tests := []struct {
		name   string
		body   map[string]string
		status int
		code   string
	}{
		{"wrong current", map[string]string{"current_password": "nope nope nope", "new_password": newPW}, 403, "invalid_credentials"},
		{"too short", map[string]string{"current_password": pw, "new_password": "short"}, 400, "password_too_short"},
		{"common", map[string]string{"current_password": pw, "new_password": "password123"}, 400, "password_common"},
		{"missing", map[string]string{"current_password": pw}, 400, "missing_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, e.do(e.public, "POST", "/v1/password", tt.body, b.headers()...), tt.status, tt.code)
		})
	}
	if e.whoami(bearer(other)...).StatusCode != 200 {
		t.Fatal("a refused password change revoked sessions")
	}

	r := e.do(e.public, "POST", "/v1/password", map[string]string{"current_password": pw, "new_password": newPW}, b.headers()...)
	if r.StatusCode != 200 {
		t.Fatalf("password change: %d %s", r.StatusCode, r.body)
	}
	fresh := r.cookie("__Host-tessera_session")
	if fresh == nil || fresh.Value == b.cookie {
		t.Fatal("password change did not renew the current session")
	}
	wantProblem(t, e.whoami(bearer(other)...), 401, "invalid_token")
	wantProblem(t, e.whoami("Cookie", "__Host-tessera_session="+b.cookie), 401, "invalid_token")
	if e.whoami("Cookie", "__Host-tessera_session="+fresh.Value).StatusCode != 200 {
		t.Fatal("the renewed session does not work")
	}
	wantProblem(t, e.do(e.public, "POST", "/v1/login", map[string]string{"username": "heidi", "password": pw}), 401, "invalid_credentials")
	e.loginToken("heidi", newPW)
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	e.addUser("ivan", pw)
	b := e.loginCookie("ivan", pw)
	tok := e.loginToken("ivan", pw)
	tests := []struct {
		name    string
		headers []string
		ok      bool
	}{
		{"same origin", b.headers(), true},
		{"origin only", b.headers("Sec-Fetch-Site", ""), true},
		{"fetch metadata only", b.headers("Origin", ""), true},
		{"no token", b.headers("X-CSRF-Token", ""), false},
		{"other session's token", b.headers("X-CSRF-Token", session.CSRFToken(tok)), false},
		{"cross-site", b.headers("Sec-Fetch-Site", "cross-site"), false},
		{"foreign origin", b.headers("Origin", "https://evil.example", "Sec-Fetch-Site", ""), false},
		{"null origin", b.headers("Origin", "null", "Sec-Fetch-Site", ""), false},
		{"same-site is not same-origin", b.headers("Origin", "", "Sec-Fetch-Site", "same-site"), false},
		{"no origin headers at all", b.headers("Origin", "", "Sec-Fetch-Site", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(e.public, "POST", "/v1/sessions/revoke-others", nil, tt.headers...)
			if tt.ok && r.StatusCode != 200 {
				t.Fatalf("refused: %d %s", r.StatusCode, r.body)
			}
			if !tt.ok {
				wantProblem(t, r, 403, "csrf")
			}
		})
	}
	// Login CSRF: a foreign page cannot log a browser in.
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ivan", "password": pw}, "Origin", "https://evil.example")
	wantProblem(t, r, 403, "csrf")
}

func TestAdminAPI(t *testing.T) {
	e := newEnv(t)
	for name, h := range map[string][]string{
		"none":  nil,
		"wrong": {"Authorization", "Bearer tsx_wrong"},
		"basic": {"Authorization", "Basic YWRtaW46YWRtaW4="},
	} {
		r := e.do(e.admin, "GET", "/admin/v1/users", nil, h...)
		wantProblem(t, r, 401, "unauthenticated")
		if name == "none" && !strings.Contains(r.Header.Get("WWW-Authenticate"), "tessera-admin") {
			t.Fatal("no admin challenge")
		}
	}
	uid := e.addUser("judy", pw)
	wantProblem(t, e.adminDo("POST", "/admin/v1/users", map[string]string{"username": "JUDY", "password": pw}), 409, "username_taken")
	wantProblem(t, e.adminDo("POST", "/admin/v1/users", map[string]string{"username": "bad name", "password": pw}), 400, "invalid_username")
	wantProblem(t, e.adminDo("POST", "/admin/v1/users", map[string]string{"username": "kimberly", "password": "my kimberly pass"}), 400, "password_contains_username")
	if r := e.adminDo("GET", "/admin/v1/users", nil); r.StatusCode != 200 || len(r.json(t)["users"].([]any)) != 1 {
		t.Fatalf("list users: %s", r.body)
	}
	a := e.loginToken("judy", pw)
	bTok := e.loginToken("judy", pw)
	r := e.adminDo("GET", "/admin/v1/users/"+uid+"/sessions", nil)
	sessions := r.json(t)["sessions"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("admin list: %s", r.body)
	}
	first := sessions[0].(map[string]any)["id"].(string)
	if r := e.adminDo("DELETE", "/admin/v1/sessions/"+first, nil); r.StatusCode != 204 {
		t.Fatalf("admin revoke: %d %s", r.StatusCode, r.body)
	}
	if r := e.adminDo("GET", "/admin/v1/sessions/"+first, nil); r.json(t)["revoke_reason"] != "admin" {
		t.Fatalf("admin get: %s", r.body)
	}
	wantProblem(t, e.adminDo("DELETE", "/admin/v1/sessions/nope", nil), 404, "not_found")
	r = e.adminDo("DELETE", "/admin/v1/users/"+uid+"/sessions", nil)
	if r.StatusCode != 200 || r.json(t)["revoked"] != float64(1) {
		t.Fatalf("admin revoke all: %d %s", r.StatusCode, r.body)
	}
	for _, tok := range []string{a, bTok} {
		wantProblem(t, e.whoami(bearer(tok)...), 401, "invalid_token")
	}
	wantProblem(t, e.adminDo("GET", "/admin/v1/users/nope/sessions", nil), 404, "not_found")
	// Admin routes do not exist on the public listener.
	wantProblem(t, e.do(e.public, "GET", "/admin/v1/users", nil, "Authorization", "Bearer "+adminToken), 404, "not_found")
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.addUser("kate", pw)
	tests := []struct {
		name, method, path, ct string
		body                   []byte
		status                 int
		code                   string
	}{
		{"malformed json", "POST", "/v1/login", "application/json", []byte(`{"username":`), 400, "malformed_json"},
		{"not an object", "POST", "/v1/login", "application/json", []byte(`[1,2]`), 400, "malformed_json"},
		{"wrong type", "POST", "/v1/login", "application/json", []byte(`{"username":5,"password":"x"}`), 400, "invalid_field"},
		{"unknown field", "POST", "/v1/login", "application/json", []byte(`{"username":"kate","passwrd":"x"}`), 400, "unknown_field"},
		{"two values", "POST", "/v1/login", "application/json", []byte(`{"username":"kate"} {}`), 400, "malformed_json"},
		{"empty body", "POST", "/v1/login", "application/json", nil, 400, "missing_body"},
		{"invalid utf-8", "POST", "/v1/login", "application/json", []byte("{\"username\":\"k\xffte\",\"password\":\"x\"}"), 400, "invalid_utf8"},
		{"oversized", "POST", "/v1/login", "application/json", []byte(`{"username":"` + strings.Repeat("a", 70000) + `"}`), 413, "body_too_large"},
		{"no content type", "POST", "/v1/login", "", []byte(`{}`), 415, "unsupported_media_type"},
		{"text/plain", "POST", "/v1/login", "text/plain", []byte(`{}`), 415, "unsupported_media_type"},
		{"latin1 json", "POST", "/v1/login", "application/json; charset=latin1", []byte(`{}`), 415, "unsupported_media_type"},
		{"bad delivery", "POST", "/v1/login", "application/json", []byte(`{"username":"kate","password":"x","delivery":"carrier-pigeon"}`), 400, "invalid_field"},
		{"missing password", "POST", "/v1/login", "application/json", []byte(`{"username":"kate"}`), 400, "missing_field"},
		{"null body", "POST", "/v1/login", "application/json", []byte(`null`), 400, "missing_field"},
		{"unknown route", "GET", "/v1/nope", "", nil, 404, "not_found"},
		{"wrong method", "GET", "/v1/login", "", nil, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.public.URL+tt.path, bytes.NewReader(tt.body))
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			wantProblem(t, resp{res, b}, tt.status, tt.code)
		})
	}
	// An over-long header block is refused by the HTTP server itself.
	req, _ := http.NewRequest("GET", e.public.URL+"/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("A", 2<<20))
	if res, err := http.DefaultClient.Do(req); err == nil {
		if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("2 MiB header: %d", res.StatusCode)
		}
		res.Body.Close()
	}
}

func TestDatabaseHoldsNoRawToken(t *testing.T) {
	e := newEnv(t)
	e.addUser("leo", pw)
	var secrets []string
	for range 3 {
		b := e.loginCookie("leo", pw)
		secrets = append(secrets, b.cookie, b.cookie[4:], b.csrf)
		r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "leo", "password": pw, "delivery": "token"})
		m := r.json(t)
		tok, rt := m["access_token"].(string), m["refresh_token"].(string)
		secrets = append(secrets, tok, rt, rt[4:])
		r = e.do(e.public, "POST", "/oauth2/token", "grant_type=refresh_token&refresh_token="+rt, "Content-Type", "application/x-www-form-urlencoded")
		rt2 := r.json(t)["refresh_token"].(string)
		secrets = append(secrets, rt2, rt2[4:])
		e.do(e.public, "POST", "/v1/logout", nil, bearer(tok)...)
	}
	secrets = append(secrets, pw)
	e.sessions.FlushTouches(context.Background())
	files, _ := filepath.Glob(e.dbPath + "*")
	if len(files) < 2 {
		t.Fatalf("expected the database and its WAL, found %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("%s holds a raw secret", filepath.Base(f))
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(e.logs.String(), s) {
			t.Fatal("the log holds a raw secret")
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t)
	e.addUser("mia", pw)
	e.loginToken("mia", pw)
	e.do(e.public, "POST", "/v1/login", map[string]string{"username": "mia", "password": "wrong wrong"})
	for _, path := range []string{"/healthz", "/readyz"} {
		for _, base := range []*httptest.Server{e.public, e.admin} {
			if r := e.do(base, "GET", path, nil); r.StatusCode != 200 {
				t.Fatalf("%s: %d", path, r.StatusCode)
			}
		}
	}
	// Metrics are the operator's: login, session and theft-signal counts
	// are not for anyone on the public listener (issue 10, L5).
	if r := e.do(e.public, "GET", "/metrics", nil); r.StatusCode != http.StatusNotFound || strings.Contains(string(r.body), "tessera_") {
		t.Fatalf("public /metrics: %d %.80s", r.StatusCode, r.body)
	}
	m := string(e.do(e.admin, "GET", "/metrics", nil).body)
	for _, want := range []string{
		`tessera_logins_total{outcome="success"} 1`,
		`tessera_logins_total{outcome="invalid_credentials"} 1`,
		`tessera_sessions_active 1`,
		`tessera_http_requests_total{code="200",listener="public",route="POST /v1/login"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	e.st.Close()
	r := e.do(e.public, "GET", "/readyz", nil)
	wantProblem(t, r, 503, "unavailable")
	// The answer names the dependency (issue 10, R2), and says when to retry.
	if !strings.Contains(string(r.body), "the store cannot") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("readyz while the store is down: %s (Retry-After %q)", r.body, r.Header.Get("Retry-After"))
	}
}

func TestInsecureDevCookies(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *session.Config) { c.InsecureDevCookies = true })
	e.addUser("noah", pw)
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "noah", "password": pw})
	raw := r.Header.Get("Set-Cookie")
	if !strings.HasPrefix(raw, "tessera_session=") || strings.Contains(raw, "Secure") || !strings.Contains(raw, "HttpOnly") {
		t.Fatalf("dev cookie: %q", raw)
	}
}

func TestLoginFailsClosedWithoutStore(t *testing.T) {
	e := newEnv(t)
	e.addUser("olga", pw)
	e.st.Close()
	wantProblem(t, e.do(e.public, "POST", "/v1/login", map[string]string{"username": "olga", "password": pw}), 503, "unavailable")
	// A well-formed token the node has not cached cannot be checked: refuse it.
	unknown, _ := token.New(token.Session)
	wantProblem(t, e.whoami(bearer(unknown.Reveal())...), 503, "unavailable")
}

func TestJWKSAndKeyRotation(t *testing.T) {
	e := newEnv(t)
	jwks := func() []any {
		r := e.do(e.public, "GET", "/.well-known/jwks.json", nil)
		if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "public, max-age=300" {
			t.Fatalf("jwks: %d %q", r.StatusCode, r.Header.Get("Cache-Control"))
		}
		if bytes.Contains(r.body, []byte(`"d":`)) {
			t.Fatal("private key material in the JWKS")
		}
		return r.json(t)["keys"].([]any)
	}
	if n := len(jwks()); n != 2 {
		t.Fatalf("JWKS has %d keys, want active and next", n)
	}
	wantProblem(t, e.do(e.admin, "POST", "/admin/v1/keys/rotate", nil), 401, "unauthenticated")
	before := e.adminDo("GET", "/admin/v1/keys", nil).json(t)["keys"].([]any)
	var active, next string
	for _, k := range before {
		m := k.(map[string]any)
		switch m["state"] {
		case "active":
			active = m["kid"].(string)
		case "next":
			next = m["kid"].(string)
		}
	}
	r := e.adminDo("POST", "/admin/v1/keys/rotate", nil)
	if r.StatusCode != 200 || r.json(t)["active_kid"] != next {
		t.Fatalf("rotate: %d %s (want %s active)", r.StatusCode, r.body, next)
	}
	published := jwks()
	if len(published) != 3 {
		t.Fatalf("after rotation JWKS has %d keys, want 3 (retired %s stays published)", len(published), active)
	}
}

// Logging in while presenting a live session ends that session, and the
// new one is fresh (ASVS 5.0 7.2.4; issue 10, L2): a cookie, a session
// token or an access token as bearer; a failed login ends nothing.
func TestLoginEndsPresentedSession(t *testing.T) {
	e := newEnv(t)
	e.addUser("jo", pw)
	e.addUser("kim", pw)
	cookie := func(b browser) []string { return []string{"Cookie", "__Host-tessera_session=" + b.cookie} }

	old := e.loginCookie("jo", pw)
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "jo", "password": "wrong"}, cookie(old)...)
	wantProblem(t, r, 401, "invalid_credentials")
	if e.whoami(cookie(old)...).StatusCode != 200 {
		t.Fatal("a failed login ended the presented session")
	}
	fresh := e.loginCookie("jo", pw, cookie(old)...)
	if fresh.cookie == old.cookie {
		t.Fatal("login kept the presented session token (fixation)")
	}
	wantProblem(t, e.whoami(cookie(old)...), 401, "invalid_token")
	if e.whoami(cookie(fresh)...).StatusCode != 200 {
		t.Fatal("the new session does not work")
	}

	// A session token as bearer, logging in as another user: it ends too.
	kim := e.loginCookie("kim", pw, bearer(fresh.cookie)...)
	wantProblem(t, e.whoami(cookie(fresh)...), 401, "invalid_token")

	// An access token as bearer ends its session, refresh token included.
	at, rt := e.loginTokens("jo", nil)
	r = e.do(e.public, "POST", "/v1/login", map[string]string{"username": "jo", "password": pw, "delivery": "token"}, bearer(at)...)
	if r.StatusCode != 200 {
		t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.whoami(bearer(at)...), 401, "invalid_token")
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}), 400, "invalid_grant")
	if e.whoami(bearer(r.json(t)["access_token"].(string))...).StatusCode != 200 || e.whoami(cookie(kim)...).StatusCode != 200 {
		t.Fatal("a session nobody presented ended")
	}
}

// tessera_logins_total counts a login as a success only when it started a
// session: a right password whose login still failed (an unusable
// client_id here, a store failure elsewhere) is not a success (issue 10, R5).
func TestLoginMetricCountsOutcomes(t *testing.T) {
	e := newEnv(t)
	e.addUser("mia", pw)
	r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "mia", "password": pw, "delivery": "token", "client_id": "nope"})
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("login with an unknown client: %d %s", r.StatusCode, r.body)
	}
	m := string(e.do(e.admin, "GET", "/metrics", nil).body)
	for _, want := range []string{`tessera_logins_total{outcome="success"} 0`, `tessera_logins_total{outcome="error"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "tessera_logins_total"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A valid JWT whose denylist cannot be consulted (the store is down and
// the feed cannot be read) is unknown, not bad: 503, never 401
// invalid_token, so the client keeps it (issue 10, R3; docs/api.md).
func TestValidJWTFailsClosedWithoutStore(t *testing.T) {
	e := newEnv(t)
	e.addUser("olga", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	at := e.loginToken("olga", pw)
	if r := e.whoami(bearer(at)...); r.StatusCode != 200 {
		t.Fatalf("whoami: %d %s", r.StatusCode, r.body)
	}
	// The introspecting client is cached, as it is on a busy node.
	introspect := func() resp {
		return e.form("/oauth2/introspect", url.Values{"token": {at}}, basic(rsID, rsSecret)...)
	}
	if introspect().json(t)["active"] != true {
		t.Fatal("introspection: inactive")
	}
	e.st.Close()
	// What 5 failed feed polls (3 s) do on a running node, without waiting:
	// the node's cache and denylist are no longer trusted.
	e.sessions.Follower().Distrust()
	r := e.whoami(bearer(at)...)
	wantProblem(t, r, 503, "unavailable")
	if r.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("a 503 asks for new credentials: %q", r.Header.Get("WWW-Authenticate"))
	}
	wantOAuthError(t, introspect(), 503, "temporarily_unavailable")
}

// Every 503 on /oauth2/* tells the client when to retry, as /v1 does
// (issue 10, L12; RFC 9110 §10.2.3).
func TestOAuth503CarriesRetryAfter(t *testing.T) {
	e := newEnv(t)
	e.addUser("olga", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}})
	at, rt := e.loginTokens("olga", nil)
	introspect := func() resp {
		return e.form("/oauth2/introspect", url.Values{"token": {at}}, basic(rsID, rsSecret)...)
	}
	if introspect().json(t)["active"] != true { // caches the client, as on a busy node
		t.Fatal("introspection: inactive")
	}
	e.st.Close()
	e.sessions.Follower().Distrust()
	for name, r := range map[string]resp{
		"introspect": introspect(),
		"refresh":    e.form("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}),
	} {
		if r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: %d %s, want 503", name, r.StatusCode, r.body)
			continue
		}
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", name)
		}
	}
}

// The request log writes the route pattern, never the raw path: a token
// someone put in a path segment must not reach the log (issue 10, L11).
func TestRequestLogWritesRouteNotPath(t *testing.T) {
	e := newEnv(t)
	const secret = "tss_s3cretInThePath0123456789"
	e.do(e.admin, "GET", "/admin/v1/sessions/"+secret, nil, "Authorization", "Bearer "+adminToken)
	e.do(e.public, "GET", "/no/such/"+secret, nil)
	logs := e.logs.String()
	if strings.Contains(logs, secret) {
		t.Fatalf("the log holds a path segment:\n%s", grepLines(logs, secret))
	}
	for _, want := range []string{`"route":"GET /admin/v1/sessions/{id}"`, `"route":"unmatched"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the request log lacks %s:\n%s", want, grepLines(logs, `"msg":"request"`))
		}
	}
}

// Strict-Transport-Security goes with every response Tessera serves over
// TLS itself, and never over plain HTTP (RFC 6797 §7.2), where a proxy in
// front owns the policy (issue 10, L8).
func TestHSTSWhenServingTLS(t *testing.T) {
	e := newEnv(t)
	tlsPub := httptest.NewTLSServer(e.srv.Public())
	defer tlsPub.Close()
	tlsAdm := httptest.NewTLSServer(e.srv.Admin())
	defer tlsAdm.Close()
	for _, tc := range []struct {
		name string
		srv  *httptest.Server
		path string
	}{{"public", tlsPub, "/healthz"}, {"public 404", tlsPub, "/nope"}, {"admin", tlsAdm, "/admin/v1/users"}} {
		r, err := tlsPub.Client().Get(tc.srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if got := r.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("%s over TLS: Strict-Transport-Security %q", tc.name, got)
		}
	}
	for _, base := range []*httptest.Server{e.public, e.admin} {
		if got := e.do(base, "GET", "/healthz", nil).Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("plain HTTP: Strict-Transport-Security %q", got)
		}
	}
}

// A store that cannot look the client up makes the revocation feed
// unavailable (503), not a bad-credentials 401: the SDK would take an
// outage for a wrong secret and stop retrying.
func TestRevocationFeedStoreDownIs503(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}, "revocation_feed": true})
	e.st.Close()
	r := e.do(e.public, "GET", "/v1/revocations", nil, basic(id, secret)...)
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("feed with the store down: %d %s (Retry-After %q), want 503 with Retry-After", r.StatusCode, r.body, r.Header.Get("Retry-After"))
	}
}
