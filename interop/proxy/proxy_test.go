package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
)

const (
	adminToken = "tsx_proxy-test-admin-token-0123456789abcdef"
	password   = "correct horse battery staple"
	cookieName = "__Host-tessera_session"
)

// need finds a proxy binary, or skips visibly (fails under CI=true, where
// .ci/run installs it).
func need(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (.ci/run installs it)", name)
	}
	t.Skipf("SKIP: %s is not installed (apt-get install -y --no-install-recommends %s); the proxy test did not run", name, name)
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// rig is Tessera, a test upstream and a proxy in front of the upstream.
type rig struct {
	t        *testing.T
	tessera  string // host:port of the public API
	admin    string // base URL of the admin API
	proxy    string // base URL of the proxy
	upstream *upstream
	// closeStore takes Tessera's store away, as an outage would.
	closeStore func()
}

// upstream records the headers of every request that reaches it.
type upstream struct {
	mu   sync.Mutex
	seen []http.Header
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Clone()
	h.Set("Test-Request", r.Method+" "+r.URL.Path) // what arrived, for the tests
	u.mu.Lock()
	u.seen = append(u.seen, h)
	u.mu.Unlock()
	io.WriteString(w, "upstream ok")
}

func (u *upstream) last() (http.Header, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return nil, 0
	}
	return u.seen[len(u.seen)-1], len(u.seen)
}

// arrived returns the headers of the requests that reached the upstream
// as method and path.
func (u *upstream) arrived(methodPath string) []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []http.Header
	for _, h := range u.seen {
		if h.Get("Test-Request") == methodPath {
			out = append(out, h)
		}
	}
	return out
}

func (u *upstream) count() int {
	_, n := u.last()
	return n
}

// startTessera serves the public API on 127.0.0.1 and trusts only
// 127.0.0.1 as a proxy: the proxies connect from it, and the test's own
// "direct" requests come from 127.0.0.3, an untrusted address.
func startTessera(t *testing.T, devCookies bool) (public, admin string, closeStore func()) {
	t.Helper()
	c := config.Default()
	c.Data = t.TempDir()
	c.TrustedProxies = []string{"127.0.0.1/32"}
	// Plain-HTTP cookies (tessera_session) for the browser test.
	c.InsecureDevCookies = devCookies
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.Public(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	adm := httptest.NewServer(a.Admin())
	t.Cleanup(func() {
		srv.Close()
		adm.Close()
		cancel()
		<-done
		a.Close()
	})
	return ln.Addr().String(), adm.URL, func() { a.Store.Close() }
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runProxy starts a proxy in the foreground as a child process and waits
// until it accepts connections.
func runProxy(t *testing.T, addr string, logFile string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	dir := filepath.Dir(logFile)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("%s output:\n%s\n%s", filepath.Base(name), out.String(), b)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(logFile)
			t.Fatalf("%s exited: %v\n%s\n%s", name, err, out.String(), b)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %s", name, addr)
}

func render(t *testing.T, path, tmpl string, data any) {
	t.Helper()
	var b bytes.Buffer
	if err := template.Must(template.New("").Parse(tmpl)).Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

type confData struct {
	Dir                     string
	Port                    int
	Tessera, Upstream, User string
}

// The nginx configuration of docs/proxies.md, with test paths and ports.
const nginxConf = `daemon off;
master_process off;
{{if .User}}user {{.User}};{{end}}
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path {{.Dir}}/body;
  proxy_temp_path {{.Dir}}/proxy;
  fastcgi_temp_path {{.Dir}}/fastcgi;
  uwsgi_temp_path {{.Dir}}/uwsgi;
  scgi_temp_path {{.Dir}}/scgi;
  server {
    listen 127.0.0.1:{{.Port}};

    # Tessera's own API on the app's host: login sets the cookie here.
    location /v1/ {
      proxy_pass http://{{.Tessera}};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }

    location = /_tessera_verify {
      internal;
      proxy_pass http://{{.Tessera}}/v1/auth/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }

    location / {
      auth_request /_tessera_verify;
      auth_request_set $tessera_user_id    $upstream_http_x_tessera_user_id;
      auth_request_set $tessera_username   $upstream_http_x_tessera_username;
      auth_request_set $tessera_session_id $upstream_http_x_tessera_session_id;
      auth_request_set $tessera_client_id  $upstream_http_x_tessera_client_id;
      auth_request_set $tessera_scope      $upstream_http_x_tessera_scope;
      auth_request_set $tessera_aal        $upstream_http_x_tessera_aal;
      # Set (or, when empty, removed): a client cannot send its own.
      proxy_set_header X-Tessera-User-Id    $tessera_user_id;
      proxy_set_header X-Tessera-Username   $tessera_username;
      proxy_set_header X-Tessera-Session-Id $tessera_session_id;
      proxy_set_header X-Tessera-Client-Id  $tessera_client_id;
      proxy_set_header X-Tessera-Scope      $tessera_scope;
      proxy_set_header X-Tessera-Aal        $tessera_aal;
      # The upstream needs the identity, not the credential.
      proxy_set_header Authorization "";
      proxy_pass http://{{.Upstream}};
    }
  }
}
`

// The Caddy configuration of docs/proxies.md, with test paths and ports.
const caddyConf = `{
	admin off
	auto_https off
	storage file_system {{.Dir}}/caddy
}

http://127.0.0.1:{{.Port}} {
	# Tessera's own API on the app's host: login sets the cookie here.
	handle /v1/* {
		reverse_proxy {{.Tessera}}
	}
	handle {
		# route keeps this order: Caddy's default order runs request_header
		# after forward_auth, which would delete the copied identity.
		route {
			# A client cannot send its own identity headers.
			request_header -X-Tessera-User-Id
			request_header -X-Tessera-Username
			request_header -X-Tessera-Session-Id
			request_header -X-Tessera-Client-Id
			request_header -X-Tessera-Scope
			request_header -X-Tessera-Aal
			forward_auth {{.Tessera}} {
				uri /v1/auth/verify
				copy_headers X-Tessera-User-Id X-Tessera-Username X-Tessera-Session-Id X-Tessera-Client-Id X-Tessera-Scope X-Tessera-Aal
			}
			reverse_proxy {{.Upstream}} {
				# The upstream needs the identity, not the credential.
				header_up -Authorization
			}
		}
	}
}
`

func newRig(t *testing.T, kind string) *rig { return newRigWith(t, kind, false) }

func newRigWith(t *testing.T, kind string, devCookies bool) *rig {
	t.Helper()
	var bin string
	switch kind {
	case "nginx":
		bin = need(t, "nginx")
	case "caddy":
		bin = need(t, "caddy")
	}
	pub, adm, closeStore := startTessera(t, devCookies)
	up := &upstream{}
	us := httptest.NewServer(up)
	t.Cleanup(us.Close)
	dir := t.TempDir()
	d := confData{Dir: dir, Port: freePort(t), Tessera: pub, Upstream: strings.TrimPrefix(us.URL, "http://")}
	addr := fmt.Sprintf("127.0.0.1:%d", d.Port)
	switch kind {
	case "nginx":
		if os.Geteuid() == 0 {
			d.User = "root" // nginx would switch to nobody, who cannot read the temp dir
		}
		render(t, filepath.Join(dir, "nginx.conf"), nginxConf, d)
		runProxy(t, addr, filepath.Join(dir, "error.log"), bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	case "caddy":
		render(t, filepath.Join(dir, "Caddyfile"), caddyConf, d)
		runProxy(t, addr, filepath.Join(dir, "caddy.log"), bin, "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
	}
	return &rig{t: t, tessera: pub, admin: adm, proxy: "http://" + addr, upstream: up, closeStore: closeStore}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %q", r.status, r.body)
	}
	return m
}

// send makes one request with client c; headers come in name, value pairs.
func send(t *testing.T, c *http.Client, method, url, body string, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, b}
}

var plain = &http.Client{Timeout: 10 * time.Second}

// untrusted connects from 127.0.0.3, which Tessera does not trust.
var untrusted = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
	DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}).DialContext,
}}

type login struct {
	userID, sessionID, cookie, csrf, accessToken string
}

// login signs a user in through the proxy (Tessera's /v1 on the app's
// host), with cookie or token delivery.
func (r *rig) login(user, delivery string) login {
	r.t.Helper()
	res := send(r.t, plain, "POST", r.proxy+"/v1/login", fmt.Sprintf(`{"username":%q,"password":%q,"delivery":%q}`, user, password, delivery),
		"Content-Type", "application/json")
	if res.status != 200 {
		r.t.Fatalf("login: %d %s", res.status, res.body)
	}
	m := res.json(r.t)
	s := m["session"].(map[string]any)
	l := login{userID: s["user_id"].(string), sessionID: s["id"].(string)}
	if delivery == "token" {
		l.accessToken = m["access_token"].(string)
		return l
	}
	l.csrf = m["csrf_token"].(string)
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == cookieName {
			l.cookie = c.Value
		}
	}
	if l.cookie == "" {
		r.t.Fatal("login set no session cookie")
	}
	return l
}

func (r *rig) addUser(name string) {
	r.t.Helper()
	res := send(r.t, plain, "POST", r.admin+"/admin/v1/users", fmt.Sprintf(`{"username":%q,"password":%q}`, name, password),
		"Content-Type", "application/json", "Authorization", "Bearer "+adminToken)
	if res.status != 201 {
		r.t.Fatalf("add user: %d %s", res.status, res.body)
	}
}

// through sends a request through the proxy to the upstream and reports
// whether it arrived, with the headers it arrived with.
func (r *rig) through(method, path, body string, headers ...string) (int, http.Header) {
	r.t.Helper()
	before := r.upstream.count()
	res := send(r.t, plain, method, r.proxy+path, body, headers...)
	h, n := r.upstream.last()
	if n == before {
		h = nil
	}
	if res.status == 200 && h == nil {
		r.t.Fatalf("%s %s: 200 but the upstream saw nothing", method, path)
	}
	if res.status != 200 && h != nil {
		r.t.Fatalf("%s %s: %d but the upstream was reached", method, path, res.status)
	}
	return res.status, h
}

func TestNginxAuthRequest(t *testing.T) { testProxy(t, "nginx") }
func TestCaddyForwardAuth(t *testing.T) { testProxy(t, "caddy") }

func testProxy(t *testing.T, kind string) {
	r := newRig(t, kind)
	r.addUser("ada")
	b := r.login("ada", "cookie")
	cookie := cookieName + "=" + b.cookie

	t.Run("cookie identity arrives, forged identity does not", func(t *testing.T) {
		st, h := r.through("GET", "/hello?x=1", "", "Cookie", cookie, "X-Tessera-User-Id", "forged", "X-Tessera-Client-Id", "forged")
		if st != 200 {
			t.Fatalf("status %d", st)
		}
		if h.Get("X-Tessera-User-Id") != b.userID || h.Get("X-Tessera-Username") != "ada" || h.Get("X-Tessera-Session-Id") != b.sessionID ||
			h.Get("X-Tessera-Aal") != "1" || len(h.Values("X-Tessera-User-Id")) != 1 || h.Get("X-Tessera-Client-Id") != "" {
			t.Fatalf("upstream headers %v", h)
		}
	})
	t.Run("no credential", func(t *testing.T) {
		if st, _ := r.through("GET", "/hello", ""); st != 401 {
			t.Fatalf("status %d, want 401", st)
		}
	})
	t.Run("JWT identity arrives, the credential is stripped", func(t *testing.T) {
		at := r.login("ada", "token").accessToken
		st, h := r.through("GET", "/api", "", "Authorization", "Bearer "+at)
		if st != 200 {
			t.Fatalf("status %d", st)
		}
		if h.Get("X-Tessera-User-Id") != b.userID || h.Get("X-Tessera-Client-Id") == "" || h.Get("Authorization") != "" {
			t.Fatalf("upstream headers %v", h)
		}
		if st, _ := r.through("GET", "/api", "", "Authorization", "Bearer "+at[:len(at)-4]+"AAAA"); st != 401 {
			t.Fatalf("tampered JWT: %d, want 401", st)
		}
		// RFC 7009 revocation of the JWT itself (its jti is denied).
		res := send(t, plain, "POST", "http://"+r.tessera+"/oauth2/revoke", "token="+at, "Content-Type", "application/x-www-form-urlencoded")
		if res.status != 200 {
			t.Fatalf("revoke: %d %s", res.status, res.body)
		}
		if st, _ := r.through("GET", "/api", "", "Authorization", "Bearer "+at); st != 401 {
			t.Fatalf("revoked JWT: %d, want 401", st)
		}
	})
	t.Run("CSRF for cookie unsafe methods", func(t *testing.T) {
		// The attack: a cross-origin page posts text/plain (no preflight)
		// and the browser attaches the cookie.
		if st, _ := r.through("POST", "/transfer", "amount=1000", "Cookie", cookie, "Content-Type", "text/plain",
			"Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"); st != 403 {
			t.Fatalf("cross-origin POST: %d, want 403", st)
		}
		// A client claiming the method itself is not believed: the proxy
		// overwrites X-Forwarded-Method.
		if st, _ := r.through("POST", "/transfer", "amount=1000", "Cookie", cookie, "Origin", "https://evil.test",
			"X-Forwarded-Method", "GET", "X-Original-Method", "GET"); st != 403 {
			t.Fatalf("cross-origin POST claiming GET: %d, want 403", st)
		}
		if st, _ := r.through("POST", "/transfer", "amount=1000", "Cookie", cookie, "Origin", r.proxy); st != 403 {
			t.Fatalf("same-origin POST without X-CSRF-Token: %d, want 403", st)
		}
		if st, _ := r.through("POST", "/transfer", "amount=1000", "Cookie", cookie, "Origin", r.proxy, "X-CSRF-Token", b.csrf); st != 200 {
			t.Fatalf("same-origin POST with X-CSRF-Token: %d, want 200", st)
		}
	})
	t.Run("direct untrusted X-Forwarded-* is ignored", func(t *testing.T) {
		base := "http://" + r.tessera + "/v1/auth/verify"
		if c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}).Dial("tcp", r.tessera); err != nil {
			t.Skipf("SKIP: cannot connect from 127.0.0.3 (all of 127/8 is loopback on Linux only): %v", err)
		} else {
			c.Close()
		}
		// Without forwarding headers the direct GET is what it is.
		if res := send(t, untrusted, "GET", base, "", "Cookie", cookie); res.status != 200 {
			t.Fatalf("direct GET: %d", res.status)
		}
		// Claiming to be a proxy's GET does not make a cookie request
		// exempt from the CSRF rule.
		res := send(t, untrusted, "GET", base, "", "Cookie", cookie, "X-Forwarded-Method", "GET",
			"X-Forwarded-Host", "127.0.0.1", "X-Forwarded-Proto", "http", "X-Forwarded-Uri", "/")
		if res.status != 403 {
			t.Fatalf("direct GET with X-Forwarded-*: %d, want 403", res.status)
		}
	})
	t.Run("revoked session is refused", func(t *testing.T) {
		res := send(t, plain, "DELETE", r.admin+"/admin/v1/sessions/"+b.sessionID, "", "Authorization", "Bearer "+adminToken)
		if res.status != 204 && res.status != 200 {
			t.Fatalf("revoke: %d %s", res.status, res.body)
		}
		if st, _ := r.through("GET", "/hello", "", "Cookie", cookie); st != 401 {
			t.Fatalf("revoked cookie: %d, want 401", st)
		}
	})
	t.Run("store outage is 403, never 200 or 500", func(t *testing.T) {
		// An opaque access token this node has not seen yet must be looked
		// up in the store: no cache can answer for it. (One it has seen is
		// cached like a JWT, and answered while the node's revocation
		// state is trusted.)
		res := send(t, plain, "POST", r.admin+"/admin/v1/clients", `{"name":"spa","grants":["refresh_token"],"public":true,"first_party":true,"token_format":"opaque"}`,
			"Content-Type", "application/json", "Authorization", "Bearer "+adminToken)
		if res.status != 201 {
			t.Fatalf("client: %d %s", res.status, res.body)
		}
		clientID := res.json(t)["client_id"]
		login := func() string {
			res := send(t, plain, "POST", r.proxy+"/v1/login", fmt.Sprintf(`{"username":"ada","password":%q,"delivery":"token","client_id":%q}`, password, clientID),
				"Content-Type", "application/json")
			at, _ := res.json(t)["access_token"].(string)
			if res.status != 200 || !strings.HasPrefix(at, "tsa_") {
				t.Fatalf("opaque login: %d %s", res.status, res.body)
			}
			return at
		}
		seen, unseen := login(), login()
		if st, _ := r.through("GET", "/api", "", "Authorization", "Bearer "+seen); st != 200 {
			t.Fatalf("opaque token: %d", st)
		}
		r.closeStore()
		if st, _ := r.through("GET", "/api", "", "Authorization", "Bearer "+unseen); st != 403 {
			t.Fatalf("opaque token with the store down: %d, want 403", st)
		}
	})
}
