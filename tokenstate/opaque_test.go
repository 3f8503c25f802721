package tokenstate_test

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
	"github.com/tessera-auth/tessera/tokenstate"
)

// countingStore counts the store reads of opaque access tokens.
type countingStore struct {
	tokenstate.Store
	reads atomic.Int64
}

func (c *countingStore) AccessTokenByHash(ctx context.Context, h token.Hash) (store.AccessToken, error) {
	c.reads.Add(1)
	return c.Store.AccessTokenByHash(ctx, h)
}

// node is a second Tessera node over f's store: its own session manager,
// revocation follower and introspection service (with its opaque cache).
func (f *fixture) node(t *testing.T, cacheSize int) (*tokenstate.Service, *session.Manager, *countingStore) {
	t.Helper()
	clock := func() time.Time { return f.now }
	sessions := session.New(f.st, session.Config{IdleTimeout: time.Hour, AbsoluteTimeout: 24 * time.Hour, TouchInterval: time.Minute, Now: clock})
	if err := sessions.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: f.st}
	svc := tokenstate.New(sessions, sessions.Follower(), f.verifier, cs, tokenstate.Config{Issuer: "https://i", Now: clock, OpaqueCache: cacheSize})
	return svc, sessions, cs
}

// TestOpaqueAccessCached: an opaque access token introspected again is
// answered from the node's cache, without a store read, and identically.
func TestOpaqueAccessCached(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc, _, cs := f.node(t, 0)
	first, err := svc.Introspect(ctx, f.rs, f.opaque)
	if err != nil || !first.Active {
		t.Fatalf("introspect: %+v, %v", first, err)
	}
	for range 3 {
		again, err := svc.Introspect(ctx, f.rs, f.opaque)
		if err != nil || !reflect.DeepEqual(again, first) {
			t.Fatalf("again: %+v, %v; want %+v", again, err, first)
		}
	}
	if _, err := svc.AccessSession(ctx, f.opaque, session.Use{}); err != nil {
		t.Fatal(err)
	}
	if n := cs.reads.Load(); n != 1 {
		t.Errorf("%d store reads for one token, want 1", n)
	}
	if n := svc.OpaqueCacheLen(); n != 1 {
		t.Errorf("%d cached, want 1", n)
	}
}

// TestOpaqueCacheRevokedElsewhere: a token cached on node B and revoked on
// node A is refused on B as soon as B's follower has read the feed, though
// B still holds the stored record (no store read happens).
func TestOpaqueCacheRevokedElsewhere(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, bSessions, cs := f.node(t, 0)
	if out, err := b.Introspect(ctx, f.rs, f.opaque); err != nil || !out.Active {
		t.Fatalf("B before revoke: %+v, %v", out, err)
	}
	if err := f.svc.Revoke(ctx, f.spa, f.opaque); err != nil { // node A
		t.Fatal(err)
	}
	if err := bSessions.Follower().Follow(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := b.Introspect(ctx, f.rs, f.opaque); err != nil || out.Active {
		t.Errorf("B after the feed: %+v, %v; want inactive", out, err)
	}
	if n := cs.reads.Load(); n != 1 {
		t.Errorf("%d store reads, want 1 (the refusal came from the cached record)", n)
	}
	if _, err := b.AccessSession(ctx, f.opaque, session.Use{}); err == nil {
		t.Error("B accepts a revoked opaque token as a bearer credential")
	}
	if n := b.OpaqueCacheLen(); n != 0 {
		t.Errorf("a denied token stays cached (%d entries)", n)
	}

	// The same for a session ended on A: B refuses the session's token.
	tok, err := f.oauth.IssueForSession(ctx, oauth.SessionGrant{SessionID: f.sid, UserID: "u1", AuthTime: f.now, ClientID: f.spa.ID, Scope: "read", TokenFormat: oauth.FormatOpaque}, f.now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := b.Introspect(ctx, f.rs, tok.AccessToken); err != nil || !out.Active {
		t.Fatalf("B: %+v, %v", out, err)
	}
	if _, err := f.sessions.Revoke(ctx, f.sid, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if err := bSessions.Follower().Follow(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := b.Introspect(ctx, f.rs, tok.AccessToken); err != nil || out.Active {
		t.Errorf("B after the session ended: %+v, %v; want inactive", out, err)
	}
}

// TestOpaqueCacheExpiry: a cached token stops at its expiry exactly (the
// injected clock), and leaves the cache.
func TestOpaqueCacheExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	svc, _, _ := f.node(t, 0)
	out, err := svc.Introspect(ctx, f.rs, f.opaque)
	if err != nil || !out.Active {
		t.Fatalf("introspect: %+v, %v", out, err)
	}
	exp := time.Unix(out.Exp, 0)
	f.now = exp.Add(-time.Second)
	if out, err := svc.Introspect(ctx, f.rs, f.opaque); err != nil || !out.Active {
		t.Fatalf("a second before exp: %+v, %v", out, err)
	}
	f.now = exp
	if out, err := svc.Introspect(ctx, f.rs, f.opaque); err != nil || out.Active {
		t.Errorf("at exp: %+v, %v; want inactive", out, err)
	}
	if at, err := svc.OpaqueAccess(ctx, f.opaque); err != nil || at != nil {
		t.Errorf("OpaqueAccess at exp: %+v, %v", at, err)
	}
	if n := svc.OpaqueCacheLen(); n != 0 {
		t.Errorf("an expired token stays cached (%d entries)", n)
	}
}

// TestOpaqueCacheBounded: the cache never holds more than its size, and a
// token evicted from it is still answered (from the store).
func TestOpaqueCacheBounded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const size = 4
	svc, _, cs := f.node(t, size)
	var toks []string
	for range 3 * size {
		tok, err := f.oauth.IssueForSession(ctx, oauth.SessionGrant{SessionID: f.sid, UserID: "u1", AuthTime: f.now, ClientID: f.spa.ID, Scope: "read", TokenFormat: oauth.FormatOpaque}, f.now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok.AccessToken)
	}
	for _, raw := range toks {
		if out, err := svc.Introspect(ctx, f.rs, raw); err != nil || !out.Active {
			t.Fatalf("introspect: %+v, %v", out, err)
		}
		if n := svc.OpaqueCacheLen(); n > size {
			t.Fatalf("%d cached, bound %d", n, size)
		}
	}
	for _, raw := range toks {
		if out, err := svc.Introspect(ctx, f.rs, raw); err != nil || !out.Active {
			t.Fatalf("introspect after eviction: %+v, %v", out, err)
		}
	}
	if n := cs.reads.Load(); n <= int64(len(toks)) {
		t.Errorf("%d store reads for %d tokens in a cache of %d: nothing was evicted", n, len(toks), size)
	}
}
