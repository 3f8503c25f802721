package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/bench"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/oauth"
)

// env is a real Tessera server (the bench fixture: SQLite store, default
// policy) behind an httptest listener, with a wrapper that counts requests
// per path and can make chosen paths fail, to observe and break the SDK's
// traffic without replacing the server.
type env struct {
	t        testing.TB
	f        *bench.Fixture
	srv      *httptest.Server
	clientID string
	secret   string

	mu    sync.Mutex
	hits  map[string]int
	fail  map[string]int   // path → status to answer instead of the server
	clock *clocktest.Clock // advanced instead of sleeping
}

func newEnv(t testing.TB) *env {
	t.Helper()
	f, err := bench.NewFixture(bench.Options{Users: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	e := &env{t: t, f: f, hits: map[string]int{}, fail: map[string]int{}, clock: clocktest.New(time.Now())}
	inner := f.Server.Public()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.hits[r.URL.Path]++
		status := e.fail[r.URL.Path]
		e.mu.Unlock()
		if status != 0 {
			http.Error(w, "injected failure", status)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	c, secret, err := f.OAuth.RegisterClient(context.Background(), oauth.ClientSpec{Name: "protected-api", Scopes: []string{"notes:read", "notes:write"}, Introspect: true, RevocationFeed: true})
	if err != nil {
		t.Fatal(err)
	}
	e.clientID, e.secret = c.ID, secret
	return e
}

func (e *env) count(path string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[path]
}

func (e *env) failPath(path string, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fail[path] = status
}

func (e *env) verifier(mod func(*VerifierConfig)) *Verifier {
	e.t.Helper()
	cfg := VerifierConfig{Issuer: e.f.Issuer, Audience: e.f.Issuer, JWKSURL: e.srv.URL + "/.well-known/jwks.json", Now: e.clock.Now}
	return build(e.t, cfg, mod, NewVerifier)
}

func (e *env) revocations(mod func(*RevocationsConfig)) *Revocations {
	e.t.Helper()
	cfg := RevocationsConfig{URL: e.srv.URL + "/v1/revocations", ClientID: e.clientID, ClientSecret: e.secret, Now: e.clock.Now}
	return build(e.t, cfg, mod, NewRevocations)
}

func (e *env) introspector(mod func(*IntrospectorConfig)) *Introspector {
	e.t.Helper()
	cfg := IntrospectorConfig{URL: e.srv.URL + "/oauth2/introspect", ClientID: e.clientID, ClientSecret: e.secret, Now: e.clock.Now}
	return build(e.t, cfg, mod, NewIntrospector)
}

// build makes an SDK component from cfg as mod changes it (mod may be nil),
// failing the test when the constructor refuses the config.
func build[C, T any](t testing.TB, cfg C, mod func(*C), newT func(C) (T, error)) T {
	t.Helper()
	if mod != nil {
		mod(&cfg)
	}
	v, err := newT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type login struct {
	Access, Refresh, SessionID string
	Cookie, CSRF               string
}

// postLogin logs user i in, with extra appended to the request's JSON
// fields, and decodes the answer.
func (e *env) postLogin(i int, extra string) (*http.Response, loginAnswer) {
	e.t.Helper()
	res, body := e.post("/v1/login", "application/json", `{"username":"`+e.f.Users[i]+`","password":"`+bench.Password+`"`+extra+`}`, nil)
	if res.StatusCode != 200 {
		e.t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	var m loginAnswer
	if err := json.Unmarshal(body, &m); err != nil {
		e.t.Fatal(err)
	}
	return res, m
}

// loginAnswer is what the SDK tests read of a login's answer.
type loginAnswer struct {
	Session struct {
		ID string `json:"id"`
	} `json:"session"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	CSRF         string `json:"csrf_token"`
}

// loginTokens logs user i in with token delivery: a JWT access token.
func (e *env) loginTokens(i int) login {
	e.t.Helper()
	_, m := e.postLogin(i, `,"delivery":"token"`)
	return login{Access: m.AccessToken, Refresh: m.RefreshToken, SessionID: m.Session.ID}
}

// loginCookie logs user i in as a browser would: an opaque session token
// in the cookie, and the CSRF token in the body.
func (e *env) loginCookie(i int) login {
	e.t.Helper()
	res, m := e.postLogin(i, "")
	l := login{SessionID: m.Session.ID, CSRF: m.CSRF}
	for _, c := range res.Cookies() {
		if c.Name == CookieName {
			l.Cookie = c.Value
		}
	}
	if l.Cookie == "" {
		e.t.Fatal("login: no session cookie")
	}
	return l
}

// clientToken runs the client_credentials grant over HTTP.
func (e *env) clientToken(scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	res, body := e.post("/oauth2/token", "application/x-www-form-urlencoded", form.Encode(), map[string]string{"Authorization": basicAuth(e.clientID, e.secret)})
	if res.StatusCode != 200 {
		e.t.Fatalf("token: %d %s", res.StatusCode, body)
	}
	var m struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(body, &m)
	return m.AccessToken
}

func (e *env) post(path, ctype, body string, headers map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, bytes.TrimSpace(b)
}

// logout ends the session of a JWT access token through the public API.
func (e *env) logout(access string) {
	e.t.Helper()
	res, body := e.post("/v1/logout", "application/json", "", map[string]string{"Authorization": "Bearer " + access})
	if res.StatusCode != http.StatusNoContent {
		e.t.Fatalf("logout: %d %s", res.StatusCode, body)
	}
}

// eventually waits for an asynchronous event (a long poll answering, a
// background refresh finishing). It is not used for expiry: that is the clock's.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
