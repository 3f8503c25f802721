package server

import (
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/oauth"
)

// TestGraceRetryOnceFromTheSameOrigin (issue 10, L1): 20 parallel replays
// of a just-rotated refresh token, within the grace window and from the
// rotation's own network and user agent, yield at most one fresh pair; the
// rest is reuse, which ends the family, so nothing they got stays usable.
// The retry is an event.
func TestGraceRetryOnceFromTheSameOrigin(t *testing.T) {
	e := newEnv(t)
	rec := &eventtest.Recorder{}
	e.events.Subscribe(rec)
	e.addUser("gus", pw)
	_, rt := e.loginTokens("gus", nil)
	ua := []string{"User-Agent", "app/1.0"}
	first := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, ua...)
	if first.StatusCode != 200 {
		t.Fatal(string(first.body))
	}
	e.clock.Add(time.Second) // within the 5 s grace window
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, ua...)
			mu.Lock()
			defer mu.Unlock()
			if r.StatusCode == 200 {
				won = append(won, r.json(t)["access_token"].(string))
			}
		}()
	}
	wg.Wait()
	if len(won) > 1 {
		t.Fatalf("%d parallel grace retries got a fresh pair, want at most 1", len(won))
	}
	for _, at := range append(won, first.json(t)["access_token"].(string)) {
		if r := e.whoami(bearer(at)...); r.StatusCode != 401 {
			t.Fatalf("an access token of the reused family still works: %d", r.StatusCode)
		}
	}
	if n := len(rec.Of(event.RefreshGraceRetry)); n != len(won) {
		t.Fatalf("%d RefreshGraceRetry events for %d retries", n, len(won))
	}
	for _, ev := range rec.Of(event.RefreshGraceRetry) {
		if ev.UserAgent != "app/1.0" || !ev.IP.IsValid() {
			t.Fatalf("grace retry event without its origin: %+v", ev)
		}
	}
}

// TestGraceRetryFromElsewhereIsReuse: a replay within the grace window
// from another user agent is not a lost answer being retried: it is reuse,
// refused, the family revoked, and the event says why.
func TestGraceRetryFromElsewhereIsReuse(t *testing.T) {
	e := newEnv(t)
	rec := &eventtest.Recorder{}
	e.events.Subscribe(rec)
	e.addUser("ida", pw)
	_, rt := e.loginTokens("ida", nil)
	first := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "User-Agent", "app/1.0")
	if first.StatusCode != 200 {
		t.Fatal(string(first.body))
	}
	e.clock.Add(time.Second)
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "User-Agent", "curl/8"), 400, "invalid_grant")
	wantOAuthError(t, e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.json(t)["refresh_token"].(string)}}, "User-Agent", "app/1.0"), 400, "invalid_grant")
	if ev := rec.Of(event.RefreshReused); len(ev) != 1 || ev[0].Reason != oauth.ReuseOtherOrigin || ev[0].UserAgent != "curl/8" {
		t.Fatalf("RefreshReused: %+v", ev)
	}
}
