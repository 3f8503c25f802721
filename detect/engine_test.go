package detect_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/geoip"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
)

// Realistic user agents: the victim's, the same browser a version later,
// and the thief's.
const (
	chromeWin    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
	chromeWinNew = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// alerts records raised alerts.
type alerts struct {
	mu  sync.Mutex
	got []detect.Alert
}

func (a *alerts) Raise(_ context.Context, al detect.Alert) (detect.Alert, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	al.ID = fmt.Sprint(len(a.got) + 1)
	a.got = append(a.got, al)
	return al, nil
}

func (a *alerts) all() []detect.Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]detect.Alert(nil), a.got...)
}

// sessions records the actions taken.
type sessions struct {
	mu      sync.Mutex
	actions []string
}

func (s *sessions) record(a string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actions = append(s.actions, a)
}

func (s *sessions) RequireStepUp(_ context.Context, id, reason string) error {
	s.record("step_up " + id)
	return nil
}

func (s *sessions) Revoke(_ context.Context, id, reason string) (store.Session, error) {
	s.record("revoke " + id + " " + reason)
	return store.Session{ID: id}, nil
}

func (s *sessions) RevokeUser(_ context.Context, userID, except, reason string) ([]string, error) {
	s.record("revoke_user " + userID)
	return nil, nil
}

func (s *sessions) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.actions...)
}

// fakeLocator places networks by their first two octets.
type fakeLocator map[string]geoip.Location

func (f fakeLocator) Lookup(ip netip.Addr) (geoip.Location, bool) {
	b := ip.As4()
	l, ok := f[fmt.Sprintf("%d.%d", b[0], b[1])]
	return l, ok
}

type harness struct {
	t        *testing.T
	clock    *clocktest.Clock
	en       *detect.Engine
	alerts   *alerts
	sessions *sessions
}

func newHarness(t *testing.T, p detect.Policy, loc detect.Locator) *harness {
	t.Helper()
	h := &harness{t: t, clock: clocktest.New(t0), alerts: &alerts{}, sessions: &sessions{}}
	cfg := detect.Config{Policy: p, Alerts: h.alerts, Sessions: h.sessions, Now: h.clock.Now}
	if loc != nil {
		cfg.Locator = loc
	}
	en, err := detect.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.en = en
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); en.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// send publishes e at the clock's time, as a fanout would.
func (h *harness) send(e event.Event) {
	if e.At.IsZero() {
		e.At = h.clock.Now()
	}
	h.en.Publish(context.Background(), e)
}

func (h *harness) flush() {
	h.t.Helper()
	if err := h.en.Flush(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) alertsOf(rule string) []detect.Alert {
	h.flush()
	var out []detect.Alert
	for _, a := range h.alerts.all() {
		if a.Rule == rule {
			out = append(out, a)
		}
	}
	return out
}

func (h *harness) noAlerts() {
	h.t.Helper()
	h.flush()
	if a := h.alerts.all(); len(a) > 0 {
		h.t.Fatalf("alerts on honest traffic: %+v", a)
	}
	if s := h.sessions.all(); len(s) > 0 {
		h.t.Fatalf("actions on honest traffic: %v", s)
	}
}

func at(e event.Event, t time.Time) event.Event { e.At = t; return e }

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func created(uid, sid, addr, ua string) event.Event {
	return event.Event{Kind: event.SessionCreated, UserID: uid, SessionID: sid, IP: ip(addr), UserAgent: ua}
}

func used(uid, sid, addr, ua string) event.Event {
	return event.Event{Kind: event.SessionValidated, UserID: uid, SessionID: sid, IP: ip(addr), UserAgent: ua}
}

// only enables the named rules of the default policy, so each test sees
// its own rule fire.
func only(names ...string) detect.Policy {
	p := detect.DefaultPolicy()
	for n, r := range p.Rules {
		r.Enabled = false
		for _, want := range names {
			if n == want {
				r.Enabled = true
			}
		}
		p.Rules[n] = r
	}
	return p
}

func TestStolenCookieFromAnotherNetworkAndBrowserIsRevoked(t *testing.T) {
	h := newHarness(t, detect.DefaultPolicy(), nil)
	h.send(created("u1", "s1", "198.51.100.7", chromeWin))
	for range 20 {
		h.clock.Add(30 * time.Second)
		h.send(used("u1", "s1", "198.51.100.7", chromeWin))
	}
	h.clock.Add(time.Minute)
	h.send(used("u1", "s1", "203.0.113.66", firefoxLinux)) // the thief
	got := h.alertsOf(detect.RuleDeviceChange)
	if len(got) != 1 {
		t.Fatalf("device_change alerts = %+v, want 1", h.alerts.all())
	}
	a := got[0]
	if a.UserID != "u1" || a.SessionID != "s1" || a.Action != detect.ActionRevokeSession || a.Severity != detect.SeverityHigh {
		t.Errorf("alert = %+v", a)
	}
	if a.Evidence["device"] != "firefox/linux" || a.Evidence["new_network"] != "true" {
		t.Errorf("evidence = %v", a.Evidence)
	}
	if s := h.sessions.all(); len(s) != 1 || s[0] != "revoke s1 theft_detected" {
		t.Errorf("actions = %v, want the session revoked", s)
	}
}

func TestDeviceChangeOnAKnownNetworkStepsUp(t *testing.T) {
	h := newHarness(t, only(detect.RuleDeviceChange), nil)
	h.send(created("u1", "s1", "198.51.100.7", chromeWin))
	h.clock.Add(time.Minute)
	h.send(used("u1", "s1", "198.51.100.9", firefoxLinux)) // same /24
	h.clock.Add(time.Minute)
	h.send(used("u1", "s1", "198.51.100.7", chromeWin)) // the first device again: nothing new
	got := h.alertsOf(detect.RuleDeviceChange)
	if len(got) != 1 || got[0].Action != detect.ActionStepUp {
		t.Fatalf("alerts = %+v, want one step_up", got)
	}
	if s := h.sessions.all(); len(s) != 1 || s[0] != "step_up s1" {
		t.Errorf("actions = %v", s)
	}
}

func TestHonestTrafficRaisesNothing(t *testing.T) {
	h := newHarness(t, detect.DefaultPolicy(), fakeLocator{
		"198.51": {Lat: 52.52, Lon: 13.40, AccuracyKM: 20, Country: "DE"},
		"100.64": {Lat: 52.40, Lon: 13.06, AccuracyKM: 50, Country: "DE"}, // the phone's carrier, Potsdam
	})
	// One user, two devices: two sessions.
	h.send(created("u1", "laptop", "198.51.100.7", chromeWin))
	h.send(created("u1", "phone", "100.64.3.10", safariPhone))
	for i := range 8 * 60 {
		h.clock.Add(time.Minute)
		h.send(used("u1", "laptop", "198.51.100.7", chromeWin))
		// The phone's address changes inside its carrier's /24 every few
		// minutes.
		h.send(used("u1", "phone", fmt.Sprintf("100.64.3.%d", 10+i/7), safariPhone))
		if i == 200 {
			// The browser updates itself.
			h.send(used("u1", "laptop", "198.51.100.7", chromeWinNew))
		}
	}
	h.noAlerts()
}

func TestSessionNetworks(t *testing.T) {
	h := newHarness(t, only(detect.RuleSessionNetworks), nil)
	h.send(created("u1", "s1", "198.51.100.7", chromeWin))
	for i, a := range []string{"198.51.100.8", "203.0.113.5", "192.0.2.1"} {
		h.clock.Add(5 * time.Minute)
		h.send(used("u1", "s1", a, chromeWin))
		if n := len(h.alertsOf(detect.RuleSessionNetworks)); n != 0 {
			t.Fatalf("after %d uses: %d alerts, want none below the threshold", i+1, n)
		}
	}
	h.clock.Add(5 * time.Minute)
	h.send(used("u1", "s1", "100.64.0.1", chromeWin)) // the fourth network
	h.clock.Add(5 * time.Minute)
	h.send(used("u1", "s1", "100.65.0.1", chromeWin)) // and a fifth: same incident
	got := h.alertsOf(detect.RuleSessionNetworks)
	if len(got) != 1 || got[0].SessionID != "s1" || got[0].Action != detect.ActionAlert {
		t.Fatalf("alerts = %+v, want one", got)
	}
	// Outside the window, four networks spread over hours are fine.
	h2 := newHarness(t, only(detect.RuleSessionNetworks), nil)
	for _, a := range []string{"198.51.100.7", "203.0.113.5", "192.0.2.1", "100.64.0.1"} {
		h2.send(used("u2", "s2", a, chromeWin))
		h2.clock.Add(45 * time.Minute)
	}
	if n := len(h2.alertsOf(detect.RuleSessionNetworks)); n != 0 {
		t.Errorf("%d alerts for networks spread beyond the window", n)
	}
}

func TestImpossibleTravel(t *testing.T) {
	loc := fakeLocator{
		"198.51": {Lat: 52.52, Lon: 13.40, AccuracyKM: 20, Country: "DE"},   // Berlin
		"198.52": {Lat: 52.40, Lon: 13.06, AccuracyKM: 50, Country: "DE"},   // Potsdam, 30 km
		"203.0":  {Lat: -33.87, Lon: 151.21, AccuracyKM: 50, Country: "AU"}, // Sydney
	}
	h := newHarness(t, only(detect.RuleImpossibleTravel), loc)
	h.send(created("u1", "s1", "198.51.100.7", chromeWin))
	h.clock.Add(10 * time.Minute)
	h.send(used("u1", "s1", "198.52.0.9", chromeWin)) // nearby: no alert
	if n := len(h.alertsOf(detect.RuleImpossibleTravel)); n != 0 {
		t.Fatalf("%d alerts for a nearby move", n)
	}
	h.clock.Add(time.Hour)
	h.send(created("u1", "s2", "203.0.113.5", chromeWin)) // another session of the user, 16 000 km away an hour later
	got := h.alertsOf(detect.RuleImpossibleTravel)
	if len(got) != 1 || got[0].UserID != "u1" || got[0].SessionID != "s2" || got[0].Evidence["to_country"] != "AU" {
		t.Fatalf("alerts = %+v, want one for s2", got)
	}
	// A flight's pace is possible.
	h2 := newHarness(t, only(detect.RuleImpossibleTravel), loc)
	h2.send(created("u2", "s3", "198.51.100.7", chromeWin))
	h2.clock.Add(22 * time.Hour)
	h2.send(used("u2", "s3", "203.0.113.5", chromeWin))
	if n := len(h2.alertsOf(detect.RuleImpossibleTravel)); n != 0 {
		t.Errorf("%d alerts for a 22-hour journey", n)
	}
}

func TestBursts(t *testing.T) {
	h := newHarness(t, only(detect.RuleSessionBurst, detect.RuleTokenBurst), nil)
	for i := range 12 {
		h.send(created("u1", fmt.Sprint("s", i), "198.51.100.7", chromeWin))
		h.clock.Add(20 * time.Second)
	}
	if got := h.alertsOf(detect.RuleSessionBurst); len(got) != 1 || got[0].UserID != "u1" {
		t.Fatalf("session_burst alerts = %+v, want one", got)
	}
	for range 150 {
		h.send(event.Event{Kind: event.TokenIssued, ClientID: "svc", Grant: event.GrantClientCredentials})
		h.clock.Add(time.Second)
	}
	if got := h.alertsOf(detect.RuleTokenBurst); len(got) != 1 || got[0].ClientID != "svc" {
		t.Fatalf("token_burst alerts = %+v, want one", got)
	}
	// A user who logs in a few times a day bursts nothing.
	h2 := newHarness(t, only(detect.RuleSessionBurst, detect.RuleTokenBurst), nil)
	for i := range 9 {
		h2.send(created("u2", fmt.Sprint("s", i), "198.51.100.7", chromeWin))
		h2.clock.Add(2 * time.Hour)
	}
	if n := len(h2.alertsOf(detect.RuleSessionBurst)); n != 0 {
		t.Errorf("%d alerts", n)
	}
}

func TestRefreshRate(t *testing.T) {
	h := newHarness(t, only(detect.RuleRefreshRate), nil)
	rot := event.Event{Kind: event.RefreshRotated, UserID: "u1", SessionID: "s1", ClientID: "app", IP: ip("198.51.100.7"), UserAgent: "okhttp/4.12.0"}
	// Every 15 minutes for a day: normal.
	for range 96 {
		h.send(rot)
		h.clock.Add(15 * time.Minute)
	}
	if n := len(h.alertsOf(detect.RuleRefreshRate)); n != 0 {
		t.Fatalf("%d alerts for a normal refresh pace", n)
	}
	// A runaway client: every 30 s.
	for range 40 {
		h.send(rot)
		h.clock.Add(30 * time.Second)
	}
	if got := h.alertsOf(detect.RuleRefreshRate); len(got) != 1 || got[0].SessionID != "s1" {
		t.Fatalf("alerts = %+v, want one", got)
	}
}

func TestRefreshReuse(t *testing.T) {
	h := newHarness(t, only(detect.RuleRefreshReuse), nil)
	h.send(event.Event{Kind: event.RefreshReused, UserID: "u1", SessionID: "s1", ClientID: "app", IP: ip("203.0.113.9"), UserAgent: "curl/8.5.0", Reason: "other_origin"})
	h.send(event.Event{Kind: event.RefreshReused, UserID: "u1", SessionID: "s1", ClientID: "app", IP: ip("203.0.113.9"), UserAgent: "curl/8.5.0"})
	got := h.alertsOf(detect.RuleRefreshReuse)
	if len(got) != 1 {
		t.Fatalf("alerts = %+v, want one per family", got)
	}
	if a := got[0]; a.UserID != "u1" || a.SessionID != "s1" || a.Evidence["device"] != "curl/other" || a.Severity != detect.SeverityHigh {
		t.Errorf("alert = %+v", a)
	}
}

func TestRevokedTokenReuse(t *testing.T) {
	h := newHarness(t, only(detect.RuleRevokedTokenReuse), nil)
	dead := event.Event{Kind: event.SessionValidated, UserID: "u1", SessionID: "s1", IP: ip("203.0.113.9"), UserAgent: firefoxLinux, Reason: event.ReasonRevoked}
	// The honest browser presents its dead cookie once and drops it.
	h.send(dead)
	if n := len(h.alertsOf(detect.RuleRevokedTokenReuse)); n != 0 {
		t.Fatalf("%d alerts for one presentation", n)
	}
	// The thief tries again, and again.
	for range 5 {
		h.clock.Add(time.Minute)
		h.send(dead)
	}
	got := h.alertsOf(detect.RuleRevokedTokenReuse)
	if len(got) != 1 || got[0].UserID != "u1" || got[0].SessionID != "s1" || got[0].Evidence["outcome"] != "revoked" {
		t.Fatalf("alerts = %+v, want one naming the victim", got)
	}
	// An expired session's cookie, presented over and over: logged only.
	expired := dead
	expired.SessionID, expired.Reason = "s2", event.ReasonExpired
	for range 5 {
		h.clock.Add(time.Minute)
		h.send(expired)
	}
	h.flush()
	if f := h.en.Firings(); f[detect.Firing{Rule: detect.RuleRevokedTokenReuse, Action: detect.ActionLog}] != 1 {
		t.Errorf("firings = %v, want one logged for the expired session", f)
	}
	// An unknown token names nobody.
	h.send(event.Event{Kind: event.SessionValidated, Reason: event.ReasonInvalid, IP: ip("203.0.113.9")})
	if n := len(h.alertsOf(detect.RuleRevokedTokenReuse)); n != 1 {
		t.Errorf("%d alerts", n)
	}
}

func TestLoginStorms(t *testing.T) {
	h := newHarness(t, only(detect.RuleLoginFailuresAccount, detect.RuleLoginFailuresIP), nil)
	// A password guesser on one account, rotating addresses.
	for i := range 25 {
		h.send(event.Event{Kind: event.LoginFailed, UserID: "victim", Reason: event.ReasonBadCredentials, IP: ip(fmt.Sprintf("192.0.%d.1", i))})
		h.clock.Add(10 * time.Second)
	}
	if got := h.alertsOf(detect.RuleLoginFailuresAccount); len(got) != 1 || got[0].UserID != "victim" {
		t.Fatalf("account alerts = %+v", got)
	}
	// One network guessing unknown accounts.
	for range 60 {
		h.send(event.Event{Kind: event.LoginFailed, Reason: event.ReasonBadCredentials, IP: ip("203.0.113.77")})
		h.clock.Add(5 * time.Second)
	}
	if got := h.alertsOf(detect.RuleLoginFailuresIP); len(got) != 1 || got[0].Evidence["network"] != "203.0.113.0/24" {
		t.Fatalf("ip alerts = %+v", got)
	}
	// A user who mistypes a few times is no storm.
	for range 4 {
		h.send(event.Event{Kind: event.LoginFailed, UserID: "clumsy", Reason: event.ReasonBadCredentials, IP: ip("198.51.100.7")})
	}
	if got := h.alertsOf(detect.RuleLoginFailuresAccount); len(got) != 1 {
		t.Errorf("account alerts = %+v", got)
	}
}

func TestCredentialStuffingRaisesOneAlert(t *testing.T) {
	h := newHarness(t, only(detect.RuleCredentialStuffing), nil)
	// Thousands of accounts from addresses of one network.
	for i := range 3000 {
		h.send(event.Event{Kind: event.LoginFailed, UserID: fmt.Sprint("user", i), Reason: event.ReasonBadCredentials, IP: ip(fmt.Sprintf("203.0.113.%d", i%250))})
		if i%100 == 0 {
			h.clock.Add(time.Second)
		}
		if i%500 == 0 {
			h.flush() // let the worker keep up: the queue is bounded
		}
	}
	got := h.alertsOf(detect.RuleCredentialStuffing)
	if len(got) != 1 {
		t.Fatalf("%d alerts, want one per incident", len(got))
	}
	if got[0].Evidence["network"] != "203.0.113.0/24" || got[0].UserID != "" {
		t.Errorf("alert = %+v", got[0])
	}
	if d := h.en.Dropped(); d != 0 {
		t.Errorf("%d events dropped", d)
	}
}

func TestUnusualActivityIsALowSignal(t *testing.T) {
	h := newHarness(t, only(detect.RuleUnusualActivity), nil)
	// Office hours from the office network for a week.
	for day := range 7 {
		for _, hr := range []int{9, 11, 14, 16} {
			h.clock.Set(t0.Add(time.Duration(day)*24*time.Hour + time.Duration(hr-9)*time.Hour))
			h.send(created("u1", fmt.Sprint("d", day, "h", hr), "198.51.100.7", chromeWin))
		}
	}
	h.flush()
	if n := len(h.en.Firings()); n != 0 {
		t.Fatalf("firings during the pattern: %v", h.en.Firings())
	}
	// 03:00 UTC from a network never seen.
	h.clock.Set(t0.Add(7*24*time.Hour - 6*time.Hour))
	h.send(created("u1", "night", "203.0.113.5", chromeWin))
	h.flush()
	f := h.en.Firings()
	if f[detect.Firing{Rule: detect.RuleUnusualActivity, Action: detect.ActionLog}] != 1 {
		t.Fatalf("firings = %v, want one logged", f)
	}
	if len(h.alerts.all()) != 0 {
		t.Errorf("a log-level signal raised an alert")
	}
}

func TestIntrospectionUsesAreNotTheHolders(t *testing.T) {
	h := newHarness(t, detect.DefaultPolicy(), nil)
	h.send(created("u1", "s1", "198.51.100.7", chromeWin))
	e := used("u1", "s1", "10.9.9.9", "Go-http-client/2.0")
	e.Via = event.ViaIntrospection
	h.send(e)
	h.noAlerts()
}

func TestPublishSkipsRepeatsAndDropsWhenFull(t *testing.T) {
	clock := clocktest.New(t0)
	en, err := detect.New(detect.Config{Policy: detect.DefaultPolicy(), Now: clock.Now, Queue: 4, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	// No worker: the queue fills. Repeats of one use never enter it.
	for range 100 {
		en.Publish(context.Background(), used("u1", "s1", "198.51.100.7", chromeWin))
	}
	if d := en.Dropped(); d != 0 {
		t.Fatalf("dropped %d repeats; they should be skipped", d)
	}
	for i := range 10 {
		en.Publish(context.Background(), used("u1", fmt.Sprint("s", i+2), "198.51.100.7", chromeWin))
	}
	if d := en.Dropped(); d != 7 {
		t.Fatalf("dropped %d, want 7 (queue of 4, one taken)", d)
	}
	// A dropped use is not remembered as seen: its next use is offered
	// again (and dropped again while the queue is full).
	en.Publish(context.Background(), used("u1", "s11", "198.51.100.7", chromeWin))
	if d := en.Dropped(); d != 8 {
		t.Fatalf("dropped %d, want 8: a dropped use was remembered", d)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := detect.DefaultPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*detect.Policy){
		"unknown rule": func(p *detect.Policy) { p.Rules["nope"] = detect.Rule{Action: detect.ActionLog} },
		"unknown action": func(p *detect.Policy) {
			r := p.Rules[detect.RuleDeviceChange]
			r.Action = "explode"
			p.Rules[detect.RuleDeviceChange] = r
		},
		"no session": func(p *detect.Policy) {
			r := p.Rules[detect.RuleLoginFailuresIP]
			r.Action = detect.ActionRevokeSession
			p.Rules[detect.RuleLoginFailuresIP] = r
		},
		// Anyone who knows a username can fail logins for it: revoking
		// the victim's sessions would hand them a denial of service.
		"failed logins revoke": func(p *detect.Policy) {
			r := p.Rules[detect.RuleLoginFailuresAccount]
			r.Action = detect.ActionRevokeUser
			p.Rules[detect.RuleLoginFailuresAccount] = r
		},
		"zero window": func(p *detect.Policy) {
			r := p.Rules[detect.RuleSessionBurst]
			r.Window = 0
			p.Rules[detect.RuleSessionBurst] = r
		},
		"prefix": func(p *detect.Policy) { p.IPv4Prefix = 33 },
	} {
		p := detect.DefaultPolicy()
		mod(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// failing is a session manager whose actions fail, as a store that is down.
type failing struct{ *sessions }

func (failing) Revoke(context.Context, string, string) (store.Session, error) {
	return store.Session{}, errors.New("store down")
}

func TestFailedActionStillAlerts(t *testing.T) {
	al := &alerts{}
	clock := clocktest.New(t0)
	en, err := detect.New(detect.Config{Policy: only(detect.RuleDeviceChange), Alerts: al, Sessions: failing{&sessions{}}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go en.Run(ctx)
	en.Publish(ctx, at(created("u1", "s1", "198.51.100.7", chromeWin), t0))
	en.Publish(ctx, at(used("u1", "s1", "203.0.113.66", firefoxLinux), t0.Add(time.Minute)))
	if err := en.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := al.all()
	if len(got) != 1 || got[0].Action != detect.ActionAlert || got[0].Evidence["action_wanted"] != "revoke_session" || got[0].Evidence["action_error"] == "" {
		t.Fatalf("alerts = %+v, want one saying the revocation failed", got)
	}
	if f := en.Firings(); f[detect.Firing{Rule: detect.RuleDeviceChange, Action: detect.ActionAlert}] != 1 {
		t.Errorf("firings = %v", f)
	}
}

// leaky fails a revocation with an error that quotes a token, as a
// driver error quoting a query's parameters could.
type leaky struct{ *sessions }

const leakedToken = "tss_2PQSSJYFYIlyF4blSpaoZ8Qwb9KP6pZEeXDAUQAp9MS1DPAkX"

func (leaky) Revoke(context.Context, string, string) (store.Session, error) {
	return store.Session{}, errors.New("revoke " + leakedToken + ": store down")
}

// lockedBuffer is a log destination the engine's worker writes while the
// test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestFiredRuleNeverLogsACredential: the "detection rule fired" line and
// the alert carry the evidence redacted (event.Redact), so a credential
// in an action's error reaches neither the log nor the alert.
func TestFiredRuleNeverLogsACredential(t *testing.T) {
	al := &alerts{}
	var logs lockedBuffer
	clock := clocktest.New(t0)
	en, err := detect.New(detect.Config{Policy: only(detect.RuleDeviceChange), Alerts: al, Sessions: leaky{&sessions{}}, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go en.Run(ctx)
	en.Publish(ctx, at(created("u1", "s1", "198.51.100.7", chromeWin), t0))
	en.Publish(ctx, at(used("u1", "s1", "203.0.113.66", firefoxLinux), t0.Add(time.Minute)))
	if err := en.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "detection rule fired") || strings.Contains(out, "tss_") {
		t.Errorf("log:\n%s", out)
	}
	got := al.all()
	if len(got) != 1 || got[0].Evidence["action_error"] == "" || strings.Contains(got[0].Evidence["action_error"], "tss_") {
		t.Errorf("alerts = %+v, want one without the token", got)
	}
}

// TestConcurrentPublish: request goroutines publish while the worker
// evaluates (run with -race).
func TestConcurrentPublish(t *testing.T) {
	h := newHarness(t, detect.DefaultPolicy(), nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				h.send(used(fmt.Sprint("u", g), fmt.Sprint("s", g, "-", i%20), fmt.Sprintf("198.51.%d.7", i%3), chromeWin))
			}
		}()
	}
	wg.Wait()
	h.flush()
	if got := h.alerts.all(); len(got) != 0 {
		t.Fatalf("alerts = %+v", got)
	}
}

// A server that renders pages for the browser (SSR, a BFF) presents the
// browser's cookie from its own network with its HTTP library's user
// agent; so does a native app whose login ran in a web view. Neither is a
// second browser: the default policy alerts, it does not act.
func TestDeviceChangeToANonBrowserOnlyAlerts(t *testing.T) {
	for _, ua := range []string{"node", "Go-http-client/1.1", "axios/1.7.7", "MyApp/2.1 CFNetwork/1408.0.4 Darwin/22.5.0"} {
		t.Run(ua, func(t *testing.T) {
			h := newHarness(t, detect.DefaultPolicy(), nil)
			h.send(created("u1", "s1", "198.51.100.7", chromeWin))
			h.clock.Add(time.Second)
			h.send(used("u1", "s1", "203.0.113.20", ua)) // the backend, another network
			h.clock.Add(time.Second)
			h.send(used("u1", "s1", "198.51.100.7", chromeWin))
			got := h.alertsOf(detect.RuleDeviceChange)
			if len(got) != 1 || got[0].Action != detect.ActionAlert {
				t.Fatalf("device_change alerts = %+v, want one alert", got)
			}
			if s := h.sessions.all(); len(s) != 0 {
				t.Errorf("actions = %v, want none on an honest session", s)
			}
		})
	}
	// The same backend's use before the browser's: still no action.
	h := newHarness(t, detect.DefaultPolicy(), nil)
	h.send(used("u1", "s1", "203.0.113.20", "node"))
	h.clock.Add(time.Second)
	h.send(used("u1", "s1", "198.51.100.7", chromeWin))
	h.flush()
	if s := h.sessions.all(); len(s) != 0 {
		t.Errorf("actions = %v, want none on an honest session", s)
	}
}

// Failed logins cost an attacker nothing: a flood of them must not fill
// the queue that a stolen session's use waits in.
func TestLoginFailureFloodLeavesRoomForSessionUses(t *testing.T) {
	clock := clocktest.New(t0)
	en, err := detect.New(detect.Config{Policy: detect.DefaultPolicy(), Now: clock.Now, Queue: 8, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	// No worker: nothing leaves the queue.
	for i := range 100 {
		en.Publish(context.Background(), event.Event{Kind: event.LoginFailed, Reason: event.ReasonBadCredentials,
			UserID: "victim", IP: ip(fmt.Sprintf("192.0.2.%d", i%250))})
		en.Publish(context.Background(), event.Event{Kind: event.SessionValidated, Reason: event.ReasonRevoked,
			UserID: "attacker", SessionID: "dead", IP: ip("192.0.2.1")})
	}
	dropped := en.Dropped()
	for i := range 4 {
		en.Publish(context.Background(), used("u1", fmt.Sprint("s", i), "203.0.113.66", firefoxLinux))
	}
	if d := en.Dropped(); d != dropped {
		t.Fatalf("%d session uses dropped behind a flood of failed logins", d-dropped)
	}
}

// A holder of one session who changes its user agent on every request
// makes every use new: it must not fill the queue (nor raise an alert per
// invented device) and crowd out other sessions' uses.
func TestOneSessionCannotFloodTheQueue(t *testing.T) {
	clock := clocktest.New(t0)
	en, err := detect.New(detect.Config{Policy: detect.DefaultPolicy(), Now: clock.Now, Queue: 16, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	// No worker: nothing leaves the queue.
	for i := range 100 {
		en.Publish(context.Background(), at(used("u9", "attacker", "192.0.2.1", fmt.Sprintf("bot%d/1.0", i)), clock.Now()))
	}
	if d := en.Dropped(); d != 0 {
		t.Fatalf("one session's changing uses filled the queue (%d dropped)", d)
	}
	en.Publish(context.Background(), at(used("u1", "s1", "203.0.113.66", firefoxLinux), clock.Now()))
	if d := en.Dropped(); d != 0 {
		t.Fatalf("another session's use was dropped")
	}
	// Once Recheck has passed, the session's uses are seen again.
	clock.Add(6 * time.Minute)
	for i := range 8 {
		en.Publish(context.Background(), at(used("u9", "attacker", "192.0.2.1", fmt.Sprintf("late%d/1.0", i)), clock.Now()))
	}
	if d := en.Dropped(); d == 0 {
		t.Fatalf("the session's uses were never offered again after Recheck")
	}
}

// A page whose session was just revoked (a logout, a renewal by a
// step-up) often has several requests in flight: its one browser presents
// the dead cookie several times at once. That is one presentation, not a
// kept copy.
func TestRevokedTokenPresentedInParallelIsOnePresentation(t *testing.T) {
	h := newHarness(t, only(detect.RuleRevokedTokenReuse), nil)
	dead := event.Event{Kind: event.SessionValidated, UserID: "u1", SessionID: "s1", IP: ip("198.51.100.7"), UserAgent: chromeWin, Reason: event.ReasonRevoked}
	for range 4 {
		h.send(dead)
		h.clock.Add(100 * time.Millisecond)
	}
	if got := h.alertsOf(detect.RuleRevokedTokenReuse); len(got) != 0 {
		t.Fatalf("alerts = %+v for one browser's parallel requests", got)
	}
	// The copy presented from elsewhere is the second presentation.
	thief := dead
	thief.IP, thief.UserAgent = ip("203.0.113.66"), firefoxLinux
	h.send(thief)
	if got := h.alertsOf(detect.RuleRevokedTokenReuse); len(got) != 1 {
		t.Fatalf("alerts = %+v, want one", got)
	}
}

// A presentation is one network and one device: the same dead credential
// from another network, or from another device on the same network,
// within the 10 s that fold one page's requests together, is a second
// presentation.
func TestRevokedTokenFromAnotherNetworkOrDeviceIsAnotherPresentation(t *testing.T) {
	dead := event.Event{Kind: event.SessionValidated, UserID: "u1", SessionID: "s1", IP: ip("198.51.100.7"), UserAgent: chromeWin, Reason: event.ReasonRevoked}
	otherNetwork, otherDevice := dead, dead
	otherNetwork.IP = ip("203.0.113.66")
	otherDevice.UserAgent = firefoxLinux
	for name, second := range map[string]event.Event{"network": otherNetwork, "device": otherDevice} {
		h := newHarness(t, only(detect.RuleRevokedTokenReuse), nil)
		h.send(dead)
		h.clock.Add(100 * time.Millisecond)
		h.send(second)
		if got := h.alertsOf(detect.RuleRevokedTokenReuse); len(got) != 1 {
			t.Errorf("another %s: alerts = %+v, want one", name, got)
		}
	}
}

// Leaving out the User-Agent header is no way past device_change: no
// browser sends none, so a cookie presented without one from another
// network is alerted. A client that never sends one is one device.
func TestMissingUserAgentIsADevice(t *testing.T) {
	h := newHarness(t, detect.DefaultPolicy(), nil)
	h.send(created("u1", "s1", "198.51.100.7", chromeWin))
	h.clock.Add(time.Minute)
	h.send(used("u1", "s1", "203.0.113.66", ""))
	got := h.alertsOf(detect.RuleDeviceChange)
	if len(got) != 1 || got[0].Action != detect.ActionAlert || got[0].Evidence["device"] != "none" {
		t.Fatalf("device_change alerts = %+v, want one alert for the stripped user agent", got)
	}

	h = newHarness(t, detect.DefaultPolicy(), nil)
	h.send(created("u2", "s2", "198.51.100.7", ""))
	h.clock.Add(time.Minute)
	h.send(used("u2", "s2", "198.51.100.8", ""))
	h.noAlerts()
	// An event that came from no request (no address either) is not a use
	// by a device.
	h.send(event.Event{Kind: event.SessionValidated, UserID: "u2", SessionID: "s2"})
	h.noAlerts()
}

// A queue of one still takes a failed login when it is empty.
func TestTinyQueueTakesFailedLogins(t *testing.T) {
	en, err := detect.New(detect.Config{Policy: detect.DefaultPolicy(), Now: clocktest.New(t0).Now, Queue: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	en.Publish(context.Background(), event.Event{Kind: event.LoginFailed, Reason: event.ReasonBadCredentials, UserID: "u1", IP: ip("192.0.2.1")})
	if d := en.Dropped(); d != 0 {
		t.Fatalf("an empty queue of one dropped a failed login")
	}
}

// A dual-stack phone leaving home Wi-Fi for mobile data changes its IPv4
// and its IPv6 network: four networks in minutes, two places. Each
// address family is counted on its own.
func TestDualStackPhoneMovingIsTwoNetworks(t *testing.T) {
	h := newHarness(t, detect.DefaultPolicy(), nil)
	h.send(created("u1", "s1", "198.51.100.7", safariPhone))
	for _, a := range []string{"2001:db8:1:2::10", "198.51.100.7", "203.0.113.40", "2001:db8:77:9::3", "203.0.113.41", "2001:db8:1:2::10"} {
		h.clock.Add(2 * time.Minute)
		h.send(used("u1", "s1", a, safariPhone))
	}
	h.noAlerts()
	// A third IPv4 network and a fourth: the threshold counts again.
	for _, a := range []string{"192.0.2.1", "100.64.0.1"} {
		h.clock.Add(2 * time.Minute)
		h.send(used("u1", "s1", a, safariPhone))
	}
	if got := h.alertsOf(detect.RuleSessionNetworks); len(got) != 1 {
		t.Fatalf("alerts = %+v, want one for four IPv4 networks", got)
	}
}

// "Request desktop site" (and an iPad's Safari, which says Macintosh
// unless asked for the mobile site) turns the same browser on a phone
// into its desktop namesake: iOS ↔ macOS, Android ↔ Linux. On a known
// network that is the quirk, alerted only; from a new one (a phone on
// mobile data hops networks) it steps up, never revokes.
func TestDesktopSiteToggleIsNotATheft(t *testing.T) {
	const (
		safariDesktop = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15"
		chromeAndroid = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
		chromeX11     = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	)
	for _, pair := range [][2]string{{safariPhone, safariDesktop}, {chromeAndroid, chromeX11}} {
		h := newHarness(t, detect.DefaultPolicy(), nil)
		h.send(created("u1", "s1", "198.51.100.7", pair[0]))
		h.clock.Add(time.Minute)
		h.send(used("u1", "s1", "198.51.100.7", pair[1]))
		got := h.alertsOf(detect.RuleDeviceChange)
		if len(got) != 1 || got[0].Action != detect.ActionAlert || len(h.sessions.all()) != 0 {
			t.Fatalf("%s: alerts = %+v, actions = %v, want one alert and no action", detect.Device(pair[1]), got, h.sessions.all())
		}

		h = newHarness(t, detect.DefaultPolicy(), nil)
		h.send(created("u1", "s1", "198.51.100.7", pair[0]))
		h.clock.Add(time.Minute)
		h.send(used("u1", "s1", "203.0.113.9", pair[1]))
		h.flush()
		if s := h.sessions.all(); len(s) != 1 || s[0] != "step_up s1" {
			t.Fatalf("%s from a new network: actions = %v, want a step-up", detect.Device(pair[1]), s)
		}
	}
}

// slowState is a State whose Observe of one session's keys waits to be
// released: a shared backend's slow round trip.
type slowState struct {
	detect.State
	once     sync.Once
	started  chan struct{}
	release  chan struct{}
	observed chan string
}

func (s *slowState) Observe(ctx context.Context, key, member string, at time.Time, window time.Duration, max int) ([]detect.Seen, error) {
	if strings.Contains(key, "slow") {
		s.once.Do(func() { close(s.started) })
		<-s.release
	} else {
		select {
		case s.observed <- key:
		default:
		}
	}
	return s.State.Observe(ctx, key, member, at, window, max)
}

// A slow round trip for one session's use must not hold up the others':
// the workers judge the shards in parallel.
func TestWorkersJudgeShardsInParallel(t *testing.T) {
	clock := clocktest.New(t0)
	st := &slowState{State: detect.NewMemory(0, clock.Now), started: make(chan struct{}), release: make(chan struct{}), observed: make(chan string, 64)}
	en, err := detect.New(detect.Config{Policy: detect.DefaultPolicy(), Now: clock.Now, State: st, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go en.Run(ctx)
	defer close(st.release)
	en.Publish(ctx, at(used("u0", "slow", "192.0.2.1", firefoxLinux), clock.Now()))
	<-st.started
	// Sixteen other sessions: all on the slow one's shard has odds 4^-16.
	for i := range 16 {
		en.Publish(ctx, at(used(fmt.Sprint("u", i+1), fmt.Sprint("fast", i), "203.0.113.66", firefoxLinux), clock.Now()))
	}
	select {
	case <-st.observed:
	case <-time.After(30 * time.Second):
		t.Fatal("no other session's use was judged while one session's round trip hung")
	}
}
