package sdk

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
)

func TestRevocationsFollowLogout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rev := e.revocations(nil)
	v := e.verifier(func(c *VerifierConfig) { c.Revocations = rev })
	l := e.loginTokens(0)

	if _, err := v.Verify(ctx, l.Access); !errors.Is(err, ErrRevocationsStale) {
		t.Fatalf("before the first poll: %v, want ErrRevocationsStale", err)
	}
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !rev.Healthy() {
		t.Fatal("not healthy after a successful poll")
	}
	if _, err := v.Verify(ctx, l.Access); err != nil {
		t.Fatal(err)
	}

	// Follow the feed with long polls, as a service would, and log out.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rev.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	}()
	e.logout(l.Access)
	eventually(t, "the logout on the feed", func() bool { return rev.Denied(l.SessionID, "") })
	if _, err := v.Verify(ctx, l.Access); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after logout: %v, want ErrRevoked", err)
	}
	other := e.loginTokens(1)
	if _, err := v.Verify(ctx, other.Access); err != nil {
		t.Fatalf("another session: %v", err)
	}

	// RFC 7009 revocation of one access token denies its jti, not its session.
	res, body := e.post("/oauth2/revoke", "application/x-www-form-urlencoded", url.Values{"token": {other.Access}}.Encode(), nil)
	if res.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", res.StatusCode, body)
	}
	c, _ := e.f.Verifier.Verify(other.Access)
	eventually(t, "the token revocation on the feed", func() bool { return rev.Denied("", c.ID) })
	if rev.Denied(other.SessionID, "") {
		t.Fatal("revoking one access token revoked its session")
	}
	if _, err := v.Verify(ctx, other.Access); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after token revocation: %v, want ErrRevoked", err)
	}
}

func TestRevocationsSnapshotAtStart(t *testing.T) {
	e := newEnv(t)
	l := e.loginTokens(0)
	e.logout(l.Access)
	// A follower started after the logout learns it from the first,
	// cursor-less answer.
	rev := e.revocations(nil)
	if err := rev.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !rev.Denied(l.SessionID, "") {
		t.Fatal("a revocation from before the follower started was missed")
	}
}

func TestRevocationsStaleFailsClosed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rev := e.revocations(func(c *RevocationsConfig) { c.MaxStale = time.Minute })
	v := e.verifier(func(c *VerifierConfig) { c.Revocations = rev })
	tok := e.loginTokens(0).Access
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	e.failPath("/v1/revocations", http.StatusServiceUnavailable)
	e.clock.Add(59 * time.Second)
	if err := rev.Sync(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("poll during the outage: %v, want ErrUnavailable", err)
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("within MaxStale: %v", err)
	}
	e.clock.Add(time.Second)
	_, err := v.Verify(ctx, tok)
	if !errors.Is(err, ErrRevocationsStale) || !Temporary(err) {
		t.Fatalf("past MaxStale: %v, want ErrRevocationsStale", err)
	}
	e.failPath("/v1/revocations", 0)
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestRevocationsExpireAtUntil(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rev := e.revocations(func(c *RevocationsConfig) { c.Retain = time.Minute })
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	l := e.loginTokens(0)
	e.logout(l.Access)
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !rev.Denied(l.SessionID, "") || rev.Len() != 1 {
		t.Fatalf("denied=%v len=%d after logout", rev.Denied(l.SessionID, ""), rev.Len())
	}
	// The feed says a session entry matters for one access-token lifetime
	// (15 min) plus the server's one-minute deny margin; Retain adds a minute.
	e.clock.Add(16*time.Minute + 59*time.Second)
	if !rev.Denied(l.SessionID, "") {
		t.Fatal("dropped before until + Retain")
	}
	e.clock.Add(2 * time.Second)
	if rev.Denied(l.SessionID, "") {
		t.Fatal("still denied after until + Retain")
	}
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rev.Len(); n != 0 {
		t.Fatalf("%d entries held after expiry, want 0", n)
	}
}

func TestRevocationsClientAuth(t *testing.T) {
	e := newEnv(t)
	rev := e.revocations(func(c *RevocationsConfig) { c.ClientSecret = "tsc_wrong" })
	err := rev.Sync(context.Background())
	if !errors.Is(err, ErrClientAuth) {
		t.Fatalf("got %v, want ErrClientAuth", err)
	}
	if rev.Healthy() {
		t.Fatal("healthy without a successful poll")
	}
}

func TestRevocationsConfig(t *testing.T) {
	ok := RevocationsConfig{URL: "https://auth.example/v1/revocations", ClientID: "c", ClientSecret: "s"}
	for _, tc := range []struct {
		name string
		mod  func(*RevocationsConfig)
		ok   bool
	}{
		{"defaults", func(*RevocationsConfig) {}, true},
		{"no URL", func(c *RevocationsConfig) { c.URL = "" }, false},
		{"relative URL", func(c *RevocationsConfig) { c.URL = "/v1/revocations" }, false},
		{"no secret", func(c *RevocationsConfig) { c.ClientSecret = "" }, false},
		{"wait over 30 s", func(c *RevocationsConfig) { c.PollWait = 31 * time.Second }, false},
		{"MaxStale below the default wait", func(c *RevocationsConfig) { c.MaxStale = 10 * time.Second }, false},
		{"short wait, short MaxStale", func(c *RevocationsConfig) { c.PollWait, c.MaxStale = 5*time.Second, 10*time.Second }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestBasicAuthFormEncodes(t *testing.T) {
	// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic.
	r := http.Request{Header: http.Header{"Authorization": {basicAuth("my client:1", "s&c=t+%")}}}
	u, p, ok := r.BasicAuth()
	if !ok || u != "my+client%3A1" || p != "s%26c%3Dt%2B%25" {
		t.Fatalf("got %q %q %v", u, p, ok)
	}
}

// TestRevocationsCursorAhead: a follower whose cursor is past the feed's
// newest entry (the server's database was restored from a backup) starts
// over from a snapshot instead of skipping every revocation numbered
// below its cursor.
func TestRevocationsCursorAhead(t *testing.T) {
	e := newEnv(t)
	rev := e.revocations(nil)
	ctx := context.Background()
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	rev.mu.Lock()
	rev.cursor = "999999"
	rev.mu.Unlock()
	l := e.loginTokens(0)
	e.logout(l.Access)
	if err := rev.Sync(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("poll with a cursor ahead of the feed: %v, want a refusal", err)
	}
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !rev.Denied(l.SessionID, "") {
		t.Fatal("the follower did not start over: a revocation below its old cursor was skipped")
	}
}

// A client without the revocation_feed permission is refused (403): a
// configuration error the SDK reports as ErrClientAuth, as it does wrong
// credentials, and never a healthy follower (issue 10).
func TestRevocationsNeedThePermission(t *testing.T) {
	e := newEnv(t)
	c, secret, err := e.f.OAuth.RegisterClient(context.Background(), oauth.ClientSpec{Name: "no-feed", Introspect: true})
	if err != nil {
		t.Fatal(err)
	}
	rev := e.revocations(func(cfg *RevocationsConfig) { cfg.ClientID, cfg.ClientSecret = c.ID, secret })
	if err := rev.Sync(context.Background()); !errors.Is(err, ErrClientAuth) || !strings.Contains(err.Error(), "revocation_feed") {
		t.Fatalf("got %v, want ErrClientAuth naming the permission", err)
	}
	if rev.Healthy() {
		t.Fatal("healthy without a successful poll")
	}
}
