package sdk

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/session"
)

const introspectPath = "/oauth2/introspect"

func TestIntrospectSessionToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := e.introspector(nil)
	l := e.loginCookie(0)

	got, err := in.Introspect(ctx, l.Cookie)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Active || got.TokenType != "session" || got.Sid != l.SessionID || got.Username != e.f.Users[0] || got.Sub == "" || got.Exp == 0 {
		t.Fatalf("introspection %+v", got)
	}
	got.Sub = "tampered" // the caller's copy must not reach the cache
	if again, err := in.Introspect(ctx, l.Cookie); err != nil || again.Sub == "tampered" {
		t.Fatalf("second answer %+v, %v", again, err)
	}
	if n := e.count(introspectPath); n != 1 { // one real ask; the second answer came from the cache
		t.Fatalf("%d introspection requests, want 1 (the second cached)", n)
	}

	// Revocation reaches an introspecting service within CacheTTL.
	if _, err := e.f.Sessions.Revoke(ctx, l.SessionID, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(9 * time.Second)
	if _, err := in.Introspect(ctx, l.Cookie); err != nil {
		t.Fatalf("within CacheTTL the cached answer stands: %v", err)
	}
	e.clock.Add(time.Second)
	if _, err := in.Introspect(ctx, l.Cookie); !errors.Is(err, ErrInactive) {
		t.Fatalf("after CacheTTL: %v, want ErrInactive", err)
	}
}

func TestIntrospectJWTAndGarbage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := e.introspector(nil)
	tok := e.clientToken("notes:read")
	got, err := in.Introspect(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.ClientID != e.clientID || got.Scope != "notes:read" || got.Sid != "" || got.Jti == "" {
		t.Fatalf("client_credentials token: %+v", got)
	}

	before := e.count(introspectPath)
	for range 3 {
		if _, err := in.Introspect(ctx, "tss_not-a-real-token"); !errors.Is(err, ErrInactive) {
			t.Fatalf("garbage: %v, want ErrInactive", err)
		}
	}
	if n := e.count(introspectPath) - before; n != 1 {
		t.Fatalf("%d requests for a replayed dead token, want 1 (negative cache)", n)
	}
	e.clock.Add(2 * time.Second)
	in.Introspect(ctx, "tss_not-a-real-token")
	if n := e.count(introspectPath) - before; n != 2 {
		t.Fatalf("%d requests after NegativeTTL, want 2", n)
	}
}

func TestIntrospectNeverPastExp(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := e.introspector(func(c *IntrospectorConfig) { c.CacheTTL = time.Hour })
	tok := e.clientToken("")
	got, err := in.Introspect(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(time.Unix(got.Exp, 0))
	before := e.count(introspectPath)
	if _, err := in.Introspect(ctx, tok); !errors.Is(err, ErrInactive) {
		t.Fatalf("at exp: %v, want ErrInactive", err)
	}
	if e.count(introspectPath) == before {
		t.Fatal("an answer was cached past the token's exp")
	}
}

func TestIntrospectFailures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.loginCookie(0).Cookie

	t.Run("bad client", func(t *testing.T) {
		in := e.introspector(func(c *IntrospectorConfig) { c.ClientSecret = "tsc_wrong" })
		if _, err := in.Introspect(ctx, tok); !errors.Is(err, ErrClientAuth) {
			t.Fatalf("got %v, want ErrClientAuth", err)
		}
	})
	t.Run("server failing", func(t *testing.T) {
		e.failPath(introspectPath, http.StatusServiceUnavailable)
		defer e.failPath(introspectPath, 0)
		in := e.introspector(nil)
		_, err := in.Introspect(ctx, tok)
		if !errors.Is(err, ErrUnavailable) || !Temporary(err) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	})
	t.Run("server unreachable", func(t *testing.T) {
		in := e.introspector(func(c *IntrospectorConfig) { c.URL = "http://127.0.0.1:1/oauth2/introspect" })
		_, err := in.Introspect(ctx, tok)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
		if strings.Contains(err.Error(), tok) {
			t.Fatal("the error names the token")
		}
	})
	t.Run("cache bounded", func(t *testing.T) {
		in := e.introspector(func(c *IntrospectorConfig) { c.MaxEntries = 10 })
		for i := range 25 {
			in.Introspect(ctx, "tss_junk"+string(rune('a'+i)))
		}
		in.mu.Lock()
		n := len(in.cache)
		in.mu.Unlock()
		if n > 10 {
			t.Fatalf("%d cache entries, bound 10", n)
		}
	})
}

// TestIntrospectStaleFeedBypassesCache: while the revocation follower is
// stale, a cached answer is not trusted; Tessera is asked again, so a
// revocation the feed could not deliver is still seen at once.
func TestIntrospectStaleFeedBypassesCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rev := e.revocations(func(c *RevocationsConfig) { c.MaxStale = time.Minute })
	if err := rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	in := e.introspector(func(c *IntrospectorConfig) { c.Revocations = rev })
	e.failPath("/v1/revocations", http.StatusServiceUnavailable)
	e.clock.Add(61 * time.Second)
	rev.Sync(ctx) // fails: the follower is now stale
	// A cached answer (CacheTTL 10 s) would still say active after the
	// revocation; a stale follower must not let it stand.
	l2 := e.loginCookie(0)
	if _, err := in.Introspect(ctx, l2.Cookie); err != nil {
		t.Fatal(err)
	}
	if _, err := e.f.Sessions.Revoke(ctx, l2.SessionID, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Introspect(ctx, l2.Cookie); !errors.Is(err, ErrInactive) {
		t.Fatalf("a cached answer stood while the feed was stale: %v, want ErrInactive", err)
	}
	// An inactive answer cannot turn active: it stays cached, so a flood
	// of dead tokens does not become a flood of requests to Tessera.
	before := e.count(introspectPath)
	if _, err := in.Introspect(ctx, l2.Cookie); !errors.Is(err, ErrInactive) {
		t.Fatal(err)
	}
	if n := e.count(introspectPath); n != before {
		t.Fatalf("%d more introspection requests for a cached inactive answer", n-before)
	}
}
