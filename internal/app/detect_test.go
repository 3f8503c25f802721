package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/geoip/geoiptest"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/oauth"
)

// TestDetectionDefaultsAgree: the configuration's defaults are detect's
// default policy, the one docs/detection.md and detect's tests describe.
func TestDetectionDefaultsAgree(t *testing.T) {
	got, want := app.DetectionPolicy(config.Default().Detection), detect.DefaultPolicy()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("config defaults:\n%+v\ndetect defaults:\n%+v", got, want)
	}
}

// TestNamedRuleCannotRevokeAtStart: a configuration that lets anyone who
// knows a username revoke that user (login_failures_account: revoke_user)
// stops the start; the refusal is detect.Policy.Validate's, and this is
// the path that reaches the operator.
func TestNamedRuleCannotRevokeAtStart(t *testing.T) {
	c := testConfig(t)
	c.Detection.Rules.LoginFailuresAccount.Action = "revoke_user"
	a, err := app.New(context.Background(), c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err == nil {
		a.Close()
		t.Fatal("New accepted login_failures_account: revoke_user")
	}
	if !strings.Contains(err.Error(), "login_failures_account") {
		t.Fatalf("New: %v, want an error naming login_failures_account", err)
	}
}

// logBuffer collects JSON log lines, safe for the server's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// firings returns the "detection rule fired" lines, decoded.
func (l *logBuffer) firings(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		if !strings.Contains(line, `"detection rule fired"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// browse sends a request from a client at addr with user agent ua and,
// if set, the session cookie.
func browse(h http.Handler, method, path, body, cookie, addr, ua string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr, req.Header["User-Agent"] = addr, []string{ua}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		if !strings.HasPrefix(body, "{") {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if cookie != "" {
		req.Header.Set("Cookie", "__Host-tessera_session="+cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

const (
	chromeWin    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
	chromeWinNew = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"
	phoneApp     = "Tessera-Demo/3.2 (iPhone; iOS 17.6) okhttp"
)

// TestDetectionDefaultPolicyEndToEnd replays realistic traffic through a
// real server under the default policy and an injected clock: a stolen
// cookie replayed from another network and browser is revoked and its
// firing names the victim; a refresh token replayed after rotation and a
// revoked cookie presented again raise their signals; a credential-
// stuffing run fires once; honest traffic fires nothing.
func TestDetectionDefaultPolicyEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clock := clocktest.New(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	logs := &logBuffer{}
	c := testConfig(t)
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken, Now: clock.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	pub, adm := a.Public(), a.Admin()
	const pw = "correct horse battery staple"
	users := map[string]string{}
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		w := do(adm, "POST", "/admin/v1/users", `{"username":"`+name+`","password":"`+pw+`"}`, "Bearer "+adminToken)
		if w.Code != 201 {
			t.Fatalf("create %s: %d %s", name, w.Code, w.Body)
		}
		users[name] = between(w.Body.String(), `"id":"`, `"`)
	}
	login := func(name, addr, ua string) (cookie, sid string) {
		t.Helper()
		w := browse(pub, "POST", "/v1/login", `{"username":"`+name+`","password":"`+pw+`"}`, "", addr, ua)
		if w.Code != 200 {
			t.Fatalf("login %s: %d %s", name, w.Code, w.Body)
		}
		for _, ck := range w.Result().Cookies() {
			if ck.Name == "__Host-tessera_session" {
				cookie = ck.Value
			}
		}
		who := browse(pub, "GET", "/v1/session", "", cookie, addr, ua)
		return cookie, between(who.Body.String(), `"session":{"id":"`, `"`)
	}
	flush := func() {
		t.Helper()
		if err := a.FlushDetection(ctx); err != nil {
			t.Fatal(err)
		}
	}
	firedFor := func(rule, who string) []map[string]any {
		var out []map[string]any
		for _, f := range logs.firings(t) {
			if f["rule"] == rule && (who == "" || f["user_id"] == users[who]) {
				out = append(out, f)
			}
		}
		return out
	}

	t.Run("stolen cookie is contained", func(t *testing.T) {
		cookie, sid := login("alice", "198.51.100.7:50000", chromeWin)
		for range 5 {
			clock.Add(time.Minute)
			if w := browse(pub, "GET", "/v1/session", "", cookie, "198.51.100.7:50001", chromeWin); w.Code != 200 {
				t.Fatalf("victim's whoami: %d", w.Code)
			}
		}
		clock.Add(10 * time.Minute)
		browse(pub, "GET", "/v1/session", "", cookie, "203.0.113.66:40000", firefoxLinux) // the thief
		flush()
		f := firedFor("device_change", "alice")
		if len(f) != 1 || f[0]["session_id"] != sid || f[0]["action"] != "revoke_session" {
			t.Fatalf("firings = %v, want device_change revoking %s", logs.firings(t), sid)
		}
		s, err := a.Sessions.Lookup(ctx, sid)
		if err != nil || !s.Revoked() || s.RevokeReason != detect.ReasonDetected {
			t.Fatalf("session = %+v, %v: want revoked for theft", s, err)
		}
		if w := browse(pub, "GET", "/v1/session", "", cookie, "203.0.113.66:40000", firefoxLinux); w.Code != 401 {
			t.Fatalf("the thief's next request: %d, want 401", w.Code)
		}
	})

	t.Run("refresh token replayed after rotation", func(t *testing.T) {
		cl, _, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "phone app", Grants: []string{oauth.GrantRefreshToken}, Public: true, FirstParty: true})
		if err != nil {
			t.Fatal(err)
		}
		w := browse(pub, "POST", "/v1/login", `{"username":"bob","password":"`+pw+`","delivery":"token","client_id":"`+cl.ID+`"}`, "", "192.0.2.10:1", phoneApp)
		if w.Code != 200 {
			t.Fatalf("login: %d %s", w.Code, w.Body)
		}
		old := between(w.Body.String(), `"refresh_token":"`, `"`)
		clock.Add(15 * time.Minute)
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}, "client_id": {cl.ID}}.Encode()
		if w := browse(pub, "POST", "/oauth2/token", form, "", "192.0.2.10:1", phoneApp); w.Code != 200 {
			t.Fatalf("refresh: %d %s", w.Code, w.Body)
		}
		clock.Add(time.Hour)
		if w := browse(pub, "POST", "/oauth2/token", form, "", "203.0.113.66:1", "python-requests/2.32.3"); w.Code != 400 {
			t.Fatalf("replay: %d %s", w.Code, w.Body)
		}
		flush()
		// The replay's address and user agent reach the rule from the
		// request (event.Event.FromContext).
		if f := firedFor("refresh_reuse", "bob"); len(f) != 1 || f[0]["action"] != "alert" || f[0]["session_id"] == "" ||
			f[0]["ip"] != "203.0.113.66" || f[0]["device"] != "python-requests/other" {
			t.Fatalf("firings = %v, want one refresh_reuse alert for bob", logs.firings(t))
		}
	})

	t.Run("revoked cookie presented again", func(t *testing.T) {
		cookie, sid := login("carol", "198.51.100.20:1", chromeWin)
		if _, err := a.Sessions.Revoke(ctx, sid, "logout"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			clock.Add(time.Minute)
			if w := browse(pub, "GET", "/v1/session", "", cookie, "203.0.113.70:1", chromeWin); w.Code != 401 {
				t.Fatalf("revoked cookie: %d", w.Code)
			}
		}
		flush()
		if f := firedFor("revoked_token_reuse", "carol"); len(f) != 1 || f[0]["session_id"] != sid || f[0]["severity"] != "high" {
			t.Fatalf("firings = %v, want one revoked_token_reuse for carol's session", logs.firings(t))
		}
	})

	t.Run("credential stuffing fires once", func(t *testing.T) {
		var names []string
		for i := range 40 {
			name := fmt.Sprintf("stuffed%02d", i)
			if w := do(adm, "POST", "/admin/v1/users", `{"username":"`+name+`","password":"`+pw+`"}`, "Bearer "+adminToken); w.Code != 201 {
				t.Fatalf("create: %d", w.Code)
			}
			names = append(names, name)
		}
		for i, name := range names {
			clock.Add(2 * time.Second)
			addr := fmt.Sprintf("203.0.113.%d:1", 100+i)
			browse(pub, "POST", "/v1/login", `{"username":"`+name+`","password":"Summer2024!"}`, "", addr, "python-requests/2.32.3")
		}
		flush()
		if f := firedFor("credential_stuffing", ""); len(f) != 1 || f[0]["network"] != "203.0.113.0/24" {
			t.Fatalf("firings = %v, want one credential_stuffing", logs.firings(t))
		}
	})

	t.Run("honest traffic fires nothing", func(t *testing.T) {
		before := len(logs.firings(t))
		laptop, laptopSID := login("dave", "198.51.100.40:1", chromeWin)
		phone, phoneSID := login("dave", "100.64.3.10:1", safariPhone)
		// A resource server asks about the laptop's token from its own
		// address: not a use by dave.
		rs, rsSecret, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "rs", Grants: []string{oauth.GrantClientCredentials}, Introspect: true})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/oauth2/introspect", strings.NewReader(url.Values{"token": {laptop}}.Encode()))
		req.RemoteAddr, req.Header["User-Agent"] = "10.20.30.40:1", []string{"Go-http-client/2.0"}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(rs.ID, rsSecret)
		iw := httptest.NewRecorder()
		pub.ServeHTTP(iw, req)
		if !strings.Contains(iw.Body.String(), `"active":true`) {
			t.Fatalf("introspection: %d %s", iw.Code, iw.Body)
		}
		for i := range 120 {
			clock.Add(time.Minute)
			ua := chromeWin
			if i > 60 {
				ua = chromeWinNew // the browser updated itself
			}
			if w := browse(pub, "GET", "/v1/session", "", laptop, "198.51.100.40:1", ua); w.Code != 200 {
				t.Fatalf("laptop: %d", w.Code)
			}
			// The phone's carrier moves it inside its block, then to a
			// neighbouring one.
			addr := fmt.Sprintf("100.64.3.%d:1", 10+i/10)
			if i > 90 {
				addr = fmt.Sprintf("100.64.7.%d:1", i)
			}
			if w := browse(pub, "GET", "/v1/session", "", phone, addr, safariPhone); w.Code != 200 {
				t.Fatalf("phone: %d at %d", w.Code, i)
			}
		}
		flush()
		if f := logs.firings(t)[before:]; len(f) != 0 {
			t.Fatalf("honest traffic fired: %v", f)
		}
		for _, sid := range []string{laptopSID, phoneSID} {
			if s, err := a.Sessions.Lookup(ctx, sid); err != nil || s.Revoked() {
				t.Fatalf("session %s: %+v, %v", sid, s, err)
			}
		}
	})
	if d := a.Detect.Dropped(); d != 0 {
		t.Errorf("%d events dropped", d)
	}
	// The firings are counted by rule and action, with no user labels.
	m := do(adm, "GET", "/metrics", "", "").Body.String()
	for _, want := range []string{
		`tessera_detection_firings_total{action="revoke_session",rule="device_change"} 1`,
		`tessera_detection_firings_total{action="alert",rule="credential_stuffing"} 1`,
		`tessera_detection_firings_total{action="alert",rule="session_networks"} 0`,
		`tessera_detection_events_dropped_total 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grep(m, "tessera_detection"))
		}
	}
}

// TestDetectionImpossibleTravelEndToEnd: with detection.geoip_database
// pointing at a built City database, a session used in London and then in
// Sydney minutes later fires impossible_travel naming its user and
// session; a move from London to Oxford fires nothing. (The token is a
// mobile app's, so the device stays the same and only this rule speaks.)
func TestDetectionImpossibleTravelEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	// The clock starts now: internal/app's JWT verifier reads the real
	// clock, and this test's credential is a JWT.
	clock := clocktest.New(time.Now().UTC())
	logs := &logBuffer{}
	c := testConfig(t)
	c.Detection.GeoIPDatabase = geoiptest.Write(t,
		geoiptest.Entry{Prefix: netip.MustParsePrefix("81.2.69.0/24"), Lat: 51.5142, Lon: -0.0931, AccuracyKM: 10, Country: "GB"},
		geoiptest.Entry{Prefix: netip.MustParsePrefix("81.2.70.0/24"), Lat: 51.7520, Lon: -1.2577, AccuracyKM: 20, Country: "GB"},
		geoiptest.Entry{Prefix: netip.MustParsePrefix("1.128.0.0/16"), Lat: -33.8688, Lon: 151.2093, AccuracyKM: 50, Country: "AU"},
	)
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken, Now: clock.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	pub := a.Public()
	const pw = "correct horse battery staple"
	w := do(a.Admin(), "POST", "/admin/v1/users", `{"username":"erin","password":"`+pw+`"}`, "Bearer "+adminToken)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	uid := between(w.Body.String(), `"id":"`, `"`)
	w = browse(pub, "POST", "/v1/login", `{"username":"erin","password":"`+pw+`","delivery":"token"}`, "", "81.2.69.160:1", phoneApp)
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	access := between(w.Body.String(), `"access_token":"`, `"`)
	use := func(addr string) {
		t.Helper()
		req := httptest.NewRequest("GET", "/v1/session", nil)
		req.RemoteAddr, req.Header["User-Agent"] = addr, []string{phoneApp}
		req.Header.Set("Authorization", "Bearer "+access)
		rw := httptest.NewRecorder()
		pub.ServeHTTP(rw, req)
		if rw.Code != 200 {
			t.Fatalf("whoami from %s: %d %s", addr, rw.Code, rw.Body)
		}
		if err := a.FlushDetection(ctx); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(5 * time.Minute) // within the access token's 15 minutes
	use("81.2.70.9:1")         // Oxford, 80 km: nearby
	if f := logs.firings(t); len(f) != 0 {
		t.Fatalf("a nearby move fired: %v", f)
	}
	clock.Add(5 * time.Minute)
	use("1.128.0.1:1") // Sydney
	f := logs.firings(t)
	if len(f) != 1 || f[0]["rule"] != "impossible_travel" || f[0]["user_id"] != uid || f[0]["session_id"] == "" || f[0]["to_country"] != "AU" {
		t.Fatalf("firings = %v, want one impossible_travel for erin", f)
	}
}
