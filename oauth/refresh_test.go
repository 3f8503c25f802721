package oauth

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

func TestDecideRefresh(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(time.Hour)
	next, child := token.Hash{1}, token.Hash{2}
	here, there := []byte("origin-here"), []byte("origin-there")
	const grace = 5 * time.Second
	// live is a family in good health: a session seen at t0 and its
	// unused token, presented an hour later by its own client.
	live := func() (store.RefreshState, Presentation) {
		st := store.RefreshState{
			Token: store.RefreshToken{Hash: token.Hash{9}, SessionID: "s1", ClientID: "app", Scope: "read write",
				CreatedAt: t0, ExpiresAt: t0.Add(7 * 24 * time.Hour)},
			Session: store.Session{ID: "s1", UserID: "u1", CreatedAt: t0, LastSeenAt: t0,
				ExpiresAt: t0.Add(14 * 24 * time.Hour), IdleTimeout: 7 * 24 * time.Hour},
		}
		p := Presentation{ClientID: "app", Successor: next, Now: now, TTL: 7 * 24 * time.Hour, Grace: grace, TouchInterval: time.Minute, Origin: here}
		return st, p
	}
	// rotatedOnce: the token was used usedAgo before now, from here, and
	// names child as its successor, still unused.
	rotatedOnce := func(usedAgo time.Duration) func(*store.RefreshState, *Presentation) {
		return func(st *store.RefreshState, _ *Presentation) {
			st.Token.UsedAt, st.Successor, st.RotatedBy = now.Add(-usedAgo), child, here
		}
	}
	successor := func(scope string, exp time.Time) store.RefreshToken {
		return store.RefreshToken{Hash: next, SessionID: "s1", ClientID: "app", Scope: scope, CreatedAt: now, ExpiresAt: exp}
	}
	rotated := store.RefreshPlan{Outcome: store.RefreshRotated, Successor: successor("read write", now.Add(7*24*time.Hour)), UsedAt: now, TouchAt: now, RotatedBy: here}
	untouched := rotated
	untouched.TouchAt = time.Time{}
	retried := store.RefreshPlan{Outcome: store.RefreshGraceRetry, Successor: successor("read write", now.Add(7*24*time.Hour)),
		UsedAt: now.Add(-2 * time.Second), Supersede: child, SupersededAt: now, TouchAt: now, RotatedBy: here, GraceUsed: true}
	reusedFor := func(why string) store.RefreshPlan {
		return store.RefreshPlan{Outcome: store.RefreshReused, Reason: why, RevokeReason: "refresh_reuse", RevokedAt: now}
	}
	reused := reusedFor(ReuseRotated)
	refused := func(reason string) store.RefreshPlan {
		return store.RefreshPlan{Outcome: store.RefreshRefused, Reason: reason}
	}

	for _, tt := range []struct {
		name   string
		change func(*store.RefreshState, *Presentation)
		want   store.RefreshPlan
	}{
		{"live token rotates and slides the session", nil, rotated},
		{"successor expiry capped by the session's", func(st *store.RefreshState, p *Presentation) {
			p.TTL = 30 * 24 * time.Hour
		}, store.RefreshPlan{Outcome: store.RefreshRotated, Successor: successor("read write", t0.Add(14*24*time.Hour)), UsedAt: now, TouchAt: now, RotatedBy: here}},
		{"narrower scope: the successor keeps the family's", func(_ *store.RefreshState, p *Presentation) { p.Scope = "read" }, rotated},
		{"same scope reordered", func(_ *store.RefreshState, p *Presentation) { p.Scope = "write read" }, rotated},
		{"session seen within the touch interval is not written", func(st *store.RefreshState, _ *Presentation) {
			st.Session.LastSeenAt = now.Add(-time.Minute + time.Microsecond)
		}, untouched},
		{"session seen exactly one touch interval ago is written", func(st *store.RefreshState, _ *Presentation) {
			st.Session.LastSeenAt = now.Add(-time.Minute)
		}, rotated},
		{"the configured touch interval, not a minute", func(st *store.RefreshState, p *Presentation) {
			st.Session.LastSeenAt, p.TouchInterval = now.Add(-5*time.Minute), 10*time.Minute
		}, untouched},

		{"revoked session", func(st *store.RefreshState, _ *Presentation) { st.Session.RevokedAt = t0 }, refused(ReasonSessionRevoked)},
		{"session past its absolute expiry", func(st *store.RefreshState, _ *Presentation) { st.Session.ExpiresAt = now }, refused(ReasonSessionExpired)},
		{"session idle-expired", func(st *store.RefreshState, _ *Presentation) { st.Session.IdleTimeout = time.Hour }, refused(ReasonSessionExpired)},
		{"expired token", func(st *store.RefreshState, _ *Presentation) { st.Token.ExpiresAt = now }, refused(ReasonTokenExpired)},
		{"another client", func(_ *store.RefreshState, p *Presentation) { p.ClientID = "other" }, refused(ReasonOtherClient)},
		{"wider scope", func(_ *store.RefreshState, p *Presentation) { p.Scope = "read admin" }, refused(ReasonScopeExceeded)},

		// An ended session or an expired token is refused before reuse is
		// considered: there is nothing left to protect.
		{"used token of a revoked session", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Hour)(st, p)
			st.Session.RevokedAt = t0
		}, refused(ReasonSessionRevoked)},
		{"used expired token", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Hour)(st, p)
			st.Token.ExpiresAt = now
		}, refused(ReasonTokenExpired)},

		{"same client retrying within grace", rotatedOnce(2 * time.Second), retried},
		{"retry at the end of the grace window", rotatedOnce(grace), store.RefreshPlan{Outcome: store.RefreshGraceRetry,
			Successor: successor("read write", now.Add(7*24*time.Hour)), UsedAt: now.Add(-grace), Supersede: child, SupersededAt: now, TouchAt: now,
			RotatedBy: here, GraceUsed: true}},
		// Issue 10, L1: only from the rotation's network and user agent,
		// and only once.
		{"retry from another origin is reuse", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Second)(st, p)
			p.Origin = there
		}, reusedFor(ReuseOtherOrigin)},
		{"retry of a token rotated before origins were recorded is reuse", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Second)(st, p)
			st.RotatedBy = nil
		}, reusedFor(ReuseOtherOrigin)},
		{"second retry is reuse", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Second)(st, p)
			st.GraceUsed = true
		}, reusedFor(ReuseGraceSpent)},
		{"retry with a wider scope is refused, not reuse", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(2*time.Second)(st, p)
			p.Scope = "admin"
		}, refused(ReasonScopeExceeded)},

		{"used token, no grace", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Second)(st, p)
			p.Grace = 0
		}, reused},
		// Concurrent presentations share one instant: with no grace window a
		// second one at the same time is still reuse.
		{"used token, no grace, same instant", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(0)(st, p)
			p.Grace = 0
		}, reused},
		{"used token, after the grace window", rotatedOnce(grace + time.Microsecond), reused},
		{"tombstone: replaced by a grace retry", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Second)(st, p)
			st.Superseded = true
		}, reused},
		{"used token with no recorded successor", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Second)(st, p)
			st.Successor = token.Hash{}
		}, reused},
		{"used token whose successor was used", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Second)(st, p)
			st.SuccessorUsed = true
		}, reused},
		{"used token, another client within grace", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Second)(st, p)
			p.ClientID = "other"
		}, reused},
		{"used token, wider scope after grace", func(st *store.RefreshState, p *Presentation) {
			rotatedOnce(time.Hour)(st, p)
			p.Scope = "admin"
		}, reused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, p := live()
			if tt.change != nil {
				tt.change(&st, &p)
			}
			if got := DecideRefresh(st, p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecideRefresh =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// TestRefreshTouchIntervalDefault: a Service configured without a touch
// interval writes the session's last-seen time at most once a minute, the
// default of policy.session.touch_interval.
func TestRefreshTouchIntervalDefault(t *testing.T) {
	if got := New(nil, nil, Config{}).cfg.TouchInterval; got != time.Minute {
		t.Fatalf("default touch interval %v, want 1m", got)
	}
	if got := New(nil, nil, Config{TouchInterval: time.Hour}).cfg.TouchInterval; got != time.Hour {
		t.Fatalf("configured touch interval %v, want 1h", got)
	}
}

// TestRefreshUsesTouchInterval: the grant judges presentations under the
// configured touch interval (policy.session.touch_interval), not a fixed one.
func TestRefreshUsesTouchInterval(t *testing.T) {
	s, st := newService(t, "p")
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := clocktest.New(t0)
	s.cfg.Now = clock.Now
	s.cfg.TouchInterval = 10 * time.Minute
	c, _, err := s.RegisterClient(ctx, ClientSpec{Name: "app", Grants: []string{GrantRefreshToken}, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	sess := newSession(t, st, t0)
	toks, err := s.IssueForSession(ctx, SessionGrant{SessionID: "s1", UserID: "u1", ClientID: c.ID, Scope: "read"}, sess.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at, lastSeen time.Time
	}{
		{t0.Add(5 * time.Minute), t0},                        // within the interval: not written
		{t0.Add(11 * time.Minute), t0.Add(11 * time.Minute)}, // past it: written
	} {
		clock.Set(step.at)
		if toks, err = s.Refresh(ctx, c, toks.RefreshToken, ""); err != nil {
			t.Fatalf("refresh at %v: %v", step.at, err)
		}
		if got, _ := st.SessionByID(ctx, "s1"); !got.LastSeenAt.Equal(step.lastSeen) {
			t.Fatalf("after a refresh at %v, last-seen is %v, want %v", step.at, got.LastSeenAt, step.lastSeen)
		}
	}
}
