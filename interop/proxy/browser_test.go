package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

type fetched struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// TestBrowserCSRFBehindNginx: what the issue saw, in a real Chromium. A
// page on another origin of the same site posts text/plain (no preflight)
// to the app behind nginx; the browser attaches the session cookie
// (SameSite=Lax allows it within a site). Forward auth must stop it before
// the upstream; the app's own page, with its CSRF token, gets through.
func TestBrowserCSRFBehindNginx(t *testing.T) {
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (.ci/run installs it)")
		}
		t.Skip("SKIP: chromium is not installed; the browser CSRF test did not run")
	}
	r := newRigWith(t, "nginx", true)
	r.addUser("eve")
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>elsewhere</title>`)
	}))
	defer evil.Close()

	ctx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	defer cancel()
	ctx, cancel = chromedp.NewContext(ctx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	open := func(url string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Navigate(url)); err != nil {
			t.Fatal(err)
		}
	}
	fetch := func(js string) fetched {
		t.Helper()
		f, err := chromedp.Run(ctx, chromedp.Evaluate[fetched](`(async () => { try { const r = await `+js+
			`; return {status: r.status, body: await r.text()}; } catch (e) { return {status: -1, body: String(e)}; } })()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return f
	}

	// Log in on the app's origin (Tessera's /v1 behind nginx), from a
	// page without Tessera's API CSP (connect-src 'none'): nginx's own
	// 401 page.
	open(r.proxy + "/")
	login := fetch(`fetch("/v1/login", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({username: "eve", password: "` + password + `"})})`)
	if login.Status != 200 {
		t.Fatalf("login: %+v", login)
	}
	csrf := login.Body[strings.Index(login.Body, `"csrf_token":"`)+len(`"csrf_token":"`):]
	csrf = csrf[:strings.IndexByte(csrf, '"')]

	// From the other origin: a no-cors GET does reach the upstream (so
	// the browser does attach the cookie), the text/plain POST does not.
	open(evil.URL)
	fetch(`fetch("` + r.proxy + `/feed", {mode: "no-cors", credentials: "include"})`)
	got := r.upstream.arrived("GET /feed")
	if len(got) != 1 {
		t.Fatal("the cross-origin GET did not carry the cookie: the POST below would prove nothing")
	}
	if got[0].Get("X-Tessera-Username") != "eve" {
		t.Fatalf("upstream headers %v", got[0])
	}
	fetch(`fetch("` + r.proxy + `/transfer", {method: "POST", mode: "no-cors", credentials: "include", headers: {"Content-Type": "text/plain"}, body: "amount=1000"})`)
	if len(r.upstream.arrived("POST /transfer")) != 0 {
		t.Fatal("a cross-origin text/plain POST carrying the cookie reached the upstream")
	}

	// The app's own page, with the CSRF token: through.
	open(r.proxy + "/") // the upstream's page now: the cookie is good
	res := fetch(`fetch("/transfer", {method: "POST", headers: {"Content-Type": "text/plain", "X-CSRF-Token": "` + csrf + `"}, body: "amount=1"})`)
	if res.Status != 200 || len(r.upstream.arrived("POST /transfer")) != 1 {
		t.Fatalf("same-origin POST with the token: %+v", res)
	}
}
