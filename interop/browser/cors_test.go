package browser

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
)

const (
	adminToken = "tsx_browser-test-admin-token-0123456789abcdef"
	password   = "correct horse battery staple"
)

// The SPA: one helper that calls Tessera with fetch and reports what the
// page could read (status 0: the browser withheld the answer).
var page = template.Must(template.New("").Parse(`<!doctype html>
<meta charset="utf-8"><title>spa</title>
<script>
const tessera = {{.}};
async function call(method, path, opts) {
  opts = opts || {};
  const headers = {};
  let body;
  if (opts.json) { headers["Content-Type"] = "application/json"; body = JSON.stringify(opts.json); }
  if (opts.form) { headers["Content-Type"] = "application/x-www-form-urlencoded"; body = new URLSearchParams(opts.form).toString(); }
  if (opts.token) { headers["Authorization"] = "Bearer " + opts.token; }
  try {
    const r = await fetch(tessera + path, {method, headers, body, credentials: "include"});
    return {status: r.status, body: await r.text()};
  } catch (e) {
    return {status: 0, body: String(e)};
  }
}
</script>`))

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (.ci/run installs it)")
	}
	t.Skip("SKIP: chromium is not installed (apt-get install -y --no-install-recommends chromium); the browser CORS test did not run")
	return ""
}

type result struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// TestSPAOnAnotherOrigin: an SPA on an allowed origin logs in (token
// delivery), asks whoami, refreshes and revokes through CORS; the same
// page on an origin that is not allowed cannot refresh, and its attempt
// does not consume the refresh token (before the CORS rule it rotated it
// unseen, and the SPA's next refresh was taken for reuse).
func TestSPAOnAnotherOrigin(t *testing.T) {
	bin := chromium(t)

	spaLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	spaOrigin := "http://" + spaLn.Addr().String()

	c := config.Default()
	c.Data = t.TempDir()
	c.AllowedOrigins = []string{spaOrigin}
	// No grace window: a refresh token consumed by the foreign attempt
	// would make the SPA's refresh below a reuse, not a forgiven retry.
	c.Policy.Tokens.RefreshGrace = 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ts := httptest.NewServer(a.Public())
	defer ts.Close()
	adm := httptest.NewServer(a.Admin())
	defer adm.Close()
	admin := func(path, body string) string {
		req, _ := http.NewRequest("POST", adm.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 201 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
		return string(b)
	}
	admin("/admin/v1/users", fmt.Sprintf(`{"username":"sam","password":%q}`, password))
	cl := admin("/admin/v1/clients", `{"name":"spa","grants":["refresh_token"],"public":true,"first_party":true}`)
	clientID := between(cl, `"client_id":"`, `"`)

	serve := func(ln net.Listener) {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			page.Execute(w, ts.URL)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	serve(spaLn)
	evilLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(evilLn)
	evilOrigin := "http://" + evilLn.Addr().String()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 60*time.Second)
	defer tcancel()

	run := func(js string) result {
		t.Helper()
		r, err := chromedp.Run(bctx, chromedp.Evaluate[result](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return r
	}
	open := func(origin string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Navigate(origin+"/")); err != nil {
			t.Fatal(err)
		}
	}

	open(spaOrigin)
	r := run(fmt.Sprintf(`call("POST", "/v1/login", {json: {username: "sam", password: %q, delivery: "token", client_id: %q}})`, password, clientID))
	if r.Status != 200 {
		t.Fatalf("login from the SPA: %+v", r)
	}
	at, rt := between(r.Body, `"access_token":"`, `"`), between(r.Body, `"refresh_token":"`, `"`)
	if r := run(fmt.Sprintf(`call("GET", "/v1/session", {token: %q})`, at)); r.Status != 200 || !strings.Contains(r.Body, `"username":"sam"`) {
		t.Fatalf("whoami from the SPA: %+v", r)
	}

	// The same page on an origin that is not allowed: the refresh is
	// refused before it runs (the page cannot even read the refusal).
	open(evilOrigin)
	refresh := fmt.Sprintf(`call("POST", "/oauth2/token", {form: {grant_type: "refresh_token", refresh_token: %q, client_id: %q}})`, rt, clientID)
	if r := run(refresh); r.Status != 0 {
		t.Fatalf("refresh from a foreign origin was readable: %+v", r)
	}
	if r := run(fmt.Sprintf(`call("GET", "/v1/session", {token: %q})`, at)); r.Status != 0 {
		t.Fatalf("whoami from a foreign origin was readable: %+v", r)
	}

	// Back on the SPA, the refresh token is still good: not consumed,
	// so this is no reuse and the session lives on.
	open(spaOrigin)
	r = run(refresh)
	if r.Status != 200 {
		t.Fatalf("the SPA's refresh after the foreign attempt: %+v", r)
	}
	at2, rt2 := between(r.Body, `"access_token":"`, `"`), between(r.Body, `"refresh_token":"`, `"`)
	if r := run(fmt.Sprintf(`call("GET", "/v1/session", {token: %q})`, at2)); r.Status != 200 {
		t.Fatalf("whoami with the refreshed token: %+v", r)
	}
	if r := run(fmt.Sprintf(`call("POST", "/oauth2/revoke", {form: {token: %q, client_id: %q}})`, rt2, clientID)); r.Status != 200 {
		t.Fatalf("revoke from the SPA: %+v", r)
	}
	if r := run(fmt.Sprintf(`call("GET", "/v1/session", {token: %q})`, at2)); r.Status != 401 {
		t.Fatalf("whoami after revoke: %+v, want 401", r)
	}
}

// between returns the text of s between the first before and the next after.
func between(s, before, after string) string {
	_, rest, ok := strings.Cut(s, before)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, after)
	return v
}
