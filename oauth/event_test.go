package oauth

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/keys/keystest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/token"
)

type forgetter struct{ calls [][]string }

func (f *forgetter) Forget(_ context.Context, reason string, ids ...string) {
	f.calls = append(f.calls, append([]string{reason}, ids...))
}

// The refresh grant publishes what it decided, and on reuse evicts the
// family's session from this node's cache at once.
func TestRefreshEvents(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "o.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ks := keystest.New(t, st, keys.Config{RetiredTTL: time.Hour, Now: clock})
	rec, cache := &eventtest.Recorder{}, &forgetter{}
	s := New(st, ks, Config{Issuer: "https://i", Audience: "https://i", Access: time.Minute, Refresh: time.Hour, Grace: 5 * time.Second,
		Pepper: []byte("p"), Now: clock, Events: rec, Sessions: cache})

	if err := st.CreateUser(ctx, store.User{ID: "u1", Username: "ann", PasswordHash: "x", CreatedAt: now, PasswordChangedAt: now}); err != nil {
		t.Fatal(err)
	}
	tok, _ := token.New(token.Session)
	if _, err := st.CreateSession(ctx, store.Session{ID: "s1", TokenHash: tok.Hash(), UserID: "u1", CreatedAt: now, AuthTime: now,
		ExpiresAt: now.Add(24 * time.Hour), LastSeenAt: now, IdleTimeout: time.Hour}, store.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c, _, err := s.RegisterClient(ctx, ClientSpec{Name: "app", Grants: []string{GrantRefreshToken}, Public: true, TokenFormat: FormatOpaque})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := s.IssueForSession(ctx, SessionGrant{SessionID: "s1", UserID: "u1", ClientID: c.ID, TokenFormat: FormatOpaque}, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	issued := rec.Of(event.TokenIssued)
	if len(issued) != 2 {
		t.Fatalf("IssueForSession published %d TokenIssued, want 2: %+v", len(issued), issued)
	}
	kinds := []string{issued[0].Token, issued[1].Token}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{event.TokenAccess, event.TokenRefresh}) {
		t.Fatalf("issued kinds %v", kinds)
	}
	for _, e := range issued {
		if e.SessionID != "s1" || e.UserID != "u1" || e.ClientID != c.ID {
			t.Fatalf("TokenIssued fields: %+v", e)
		}
		if e.Token == event.TokenAccess && (e.Format != FormatOpaque || e.JTI == "") {
			t.Fatalf("access TokenIssued: %+v", e)
		}
	}

	rec.Reset()
	if _, err := s.Refresh(ctx, c, toks.RefreshToken, ""); err != nil {
		t.Fatal(err)
	}
	if r := rec.Of(event.RefreshRotated); len(r) != 1 || r[0].SessionID != "s1" || r[0].UserID != "u1" || r[0].ClientID != c.ID || !r[0].At.Equal(now) {
		t.Fatalf("RefreshRotated: %+v", r)
	}
	if n := len(rec.Of(event.TokenIssued)); n != 2 {
		t.Fatalf("a rotation published %d TokenIssued, want 2 (refresh and access)", n)
	}
	now = now.Add(2 * time.Second)
	if _, err := s.Refresh(ctx, c, toks.RefreshToken, ""); err != nil {
		t.Fatalf("grace retry: %v", err)
	}
	if r := rec.Of(event.RefreshGraceRetry); len(r) != 1 || r[0].SessionID != "s1" {
		t.Fatalf("RefreshGraceRetry: %+v", r)
	}
	if len(cache.calls) != 0 {
		t.Fatal("the session was evicted without reuse")
	}
	now = now.Add(time.Minute)
	if _, err := s.Refresh(ctx, c, toks.RefreshToken, ""); code(err) != "invalid_grant" {
		t.Fatalf("reuse: %v", err)
	}
	if r := rec.Of(event.RefreshReused); len(r) != 1 || r[0].SessionID != "s1" || r[0].UserID != "u1" || r[0].ClientID != c.ID {
		t.Fatalf("RefreshReused: %+v", r)
	}
	if len(cache.calls) != 1 || !slices.Equal(cache.calls[0], []string{ReasonRefreshReuse, "s1"}) {
		t.Fatalf("on reuse the cache was told %v", cache.calls)
	}
}

func TestClientCredentialsEvent(t *testing.T) {
	s, _ := newService(t, "p")
	rec := &eventtest.Recorder{}
	s.cfg.Events = rec
	ctx := context.Background()
	c, _, err := s.RegisterClient(ctx, ClientSpec{Name: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClientCredentials(ctx, c, ""); err != nil {
		t.Fatal(err)
	}
	e := rec.Of(event.TokenIssued)
	if len(e) != 1 || e[0].Token != event.TokenAccess || e[0].Format != FormatJWT || e[0].ClientID != c.ID || e[0].JTI == "" || e[0].UserID != "" {
		t.Fatalf("TokenIssued: %+v", e)
	}
}
