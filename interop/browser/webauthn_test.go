package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
)

// webauthnPage is the minimal relying-party page: plain fetch calls to the
// WebAuthn endpoints and the browser's own navigator.credentials, with
// the base64url conversions every WebAuthn page needs.
const webauthnPage = `<!doctype html><meta charset="utf-8"><title>tessera webauthn</title>
<script>
const b2u = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g,'-').replace(/\//g,'_').replace(/=+$/,'');
const u2b = s => Uint8Array.from(atob(s.replace(/-/g,'+').replace(/_/g,'/') + '==='.slice((s.length+3)%4)), c => c.charCodeAt(0));
let csrf = '';
async function post(path, body) {
  const r = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify(body || {})});
  const j = await r.json();
  if (!r.ok) throw new Error(path + ': ' + r.status + ' ' + JSON.stringify(j));
  if (j.csrf_token) csrf = j.csrf_token;
  return j;
}
function credJSON(c) {
  const r = c.response, o = {id: c.id, rawId: b2u(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(),
    authenticatorAttachment: c.authenticatorAttachment, response: {clientDataJSON: b2u(r.clientDataJSON)}};
  if (r.attestationObject) { o.response.attestationObject = b2u(r.attestationObject); o.response.transports = r.getTransports(); }
  else { o.response.authenticatorData = b2u(r.authenticatorData); o.response.signature = b2u(r.signature);
         if (r.userHandle) o.response.userHandle = b2u(r.userHandle); }
  return o;
}
async function login(username, password) { return JSON.stringify(await post('/v1/login', {username, password})); }
async function register(name) {
  const pk = (await post('/v1/webauthn/register/begin', {name})).publicKey;
  pk.challenge = u2b(pk.challenge); pk.user.id = u2b(pk.user.id);
  (pk.excludeCredentials || []).forEach(c => c.id = u2b(c.id));
  const c = await navigator.credentials.create({publicKey: pk});
  return JSON.stringify(await post('/v1/webauthn/register/finish', {credential: credJSON(c)}));
}
async function assert(begin, finish) {
  const pk = (await post('/v1/webauthn/login/begin', begin)).publicKey;
  pk.challenge = u2b(pk.challenge);
  (pk.allowCredentials || []).forEach(c => c.id = u2b(c.id));
  const c = await navigator.credentials.get({publicKey: pk});
  finish.credential = credJSON(c);
  return JSON.stringify(await post('/v1/webauthn/login/finish', finish));
}
async function passwordless() { return assert({}, {}); }
async function secondFactor(username, password) {
  const ch = await post('/v1/login', {username, password});
  if (!ch.mfa_required || !ch.methods.includes('webauthn')) throw new Error('no webauthn challenge: ' + JSON.stringify(ch));
  return assert({mfa_token: ch.mfa_token}, {mfa_token: ch.mfa_token});
}
async function whoami() { const r = await fetch('/v1/session'); return JSON.stringify({status: r.status, body: await r.json()}); }
</script>`

// TestWebAuthnInChromium drives a real Chromium with the DevTools
// virtual authenticator (CTAP2, resident keys, user verification)
// against Tessera on http://localhost (a secure context): it registers a
// passkey, logs in passwordless, and then uses it as the second factor
// after a password.
func TestWebAuthnInChromium(t *testing.T) {
	chrome := chromium(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)

	c := config.Default()
	c.Data = t.TempDir()
	c.PublicOrigin = origin
	c.InsecureDevCookies = true // plain http://localhost: no __Host- cookie
	const adminToken = "tsx_interop-admin-token-0123456789abcdef"
	a, err := app.New(t.Context(), c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Passkeys == nil {
		t.Fatal("WebAuthn is off: the RP ID was not derived from public_origin")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, webauthnPage)
	})
	mux.Handle("/", a.Public())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	admin := &http.Server{Handler: a.Admin()}
	aln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go admin.Serve(aln)
	defer admin.Close()
	req, _ := http.NewRequest("POST", "http://"+aln.Addr().String()+"/admin/v1/users", strings.NewReader(`{"username":"ada","password":"correct horse battery staple"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create user: %v %v", res, err)
	}

	allocCtx, cancel := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	added, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportUsb,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}

	call := func(expr string) map[string]any {
		t.Helper()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%s: %q", expr, out)
		}
		return m
	}
	amr := func(m map[string]any) ([]string, float64) {
		s, _ := m["session"].(map[string]any)
		var out []string
		for _, v := range s["amr"].([]any) {
			out = append(out, v.(string))
		}
		return out, s["aal"].(float64)
	}

	// Password login, then register a passkey: the session is renewed
	// with the key's assurance.
	call(`login("ada", "correct horse battery staple")`)
	reg := call(`register("virtual key")`)
	if got, aal := amr(reg); !slices.Equal(got, []string{"pwd", "hwk", "user", "mfa"}) || aal != 3 {
		t.Fatalf("after registration: amr %v aal %v", got, aal)
	}
	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams(added))
	if err != nil || len(creds.Credentials) != 1 || !creds.Credentials[0].IsResidentCredential || creds.Credentials[0].RpID != "localhost" {
		t.Fatalf("virtual authenticator credentials: %+v, %v", creds, err)
	}

	// Passwordless: the discoverable credential with UV.
	pl := call(`passwordless()`)
	if got, aal := amr(pl); !slices.Equal(got, []string{"hwk", "user", "mfa"}) || aal != 3 {
		t.Fatalf("passwordless: amr %v aal %v", got, aal)
	}
	if who := call(`whoami()`); who["status"] != float64(200) {
		t.Fatalf("whoami after passwordless: %v", who)
	}

	// The password, then the passkey as the second factor.
	sf := call(`secondFactor("ada", "correct horse battery staple")`)
	if got, aal := amr(sf); !slices.Equal(got, []string{"pwd", "hwk", "user", "mfa"}) || aal != 3 {
		t.Fatalf("second factor: amr %v aal %v", got, aal)
	}
}
