package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

func testClients(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := store.Client{ID: "c1", Name: "billing", SecretHash: []byte{1, 2, 3}, Grants: []string{"client_credentials"}, Scopes: []string{"read", "write"}, TokenFormat: "jwt", CreatedAt: base}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	pub := store.Client{ID: "c2", Name: "spa", Grants: []string{"refresh_token"}, TokenFormat: "jwt", CreatedAt: base}
	if err := s.CreateClient(ctx, pub); err != nil {
		t.Fatal(err)
	}
	dup := c
	dup.ID = "c3"
	if err := s.CreateClient(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	got, err := s.ClientByID(ctx, "c1")
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("ClientByID = %+v, %v", got, err)
	}
	got, _ = s.ClientByID(ctx, "c2")
	if got.SecretHash != nil || len(got.Scopes) != 0 {
		t.Fatalf("public client round trip: %+v", got)
	}
	if _, err := s.ClientByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
	if all, err := s.ListClients(ctx); err != nil || len(all) != 2 {
		t.Fatalf("ListClients: %d, %v", len(all), err)
	}
}

// refreshFamily makes a user, a session and the session's first refresh token.
func refreshFamily(t *testing.T, s store.Store, name string) (store.Session, store.RefreshToken) {
	t.Helper()
	u := newUser(t, s, name)
	sess := newSession(t, u.ID, base)
	sess.IdleTimeout = 7 * 24 * time.Hour
	sess.ExpiresAt = base.Add(14 * 24 * time.Hour)
	mustCreate(t, s, sess, 0)
	rt := store.RefreshToken{Hash: NewHash(t), SessionID: sess.ID, ClientID: "app", Scope: "read write", CreatedAt: base, ExpiresAt: base.Add(7 * 24 * time.Hour)}
	if err := s.CreateRefreshToken(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	return sess, rt
}

// NewHash is the hash of a fresh refresh token.
func NewHash(t testing.TB) token.Hash {
	t.Helper()
	tok, err := token.New(token.Refresh)
	if err != nil {
		t.Fatal(err)
	}
	return tok.Hash()
}

// Decide is the refresh policy the conformance suite drives the store's
// primitive with, and a backend's own tests should too: oauth's, the one
// the server runs, with the default last-seen write interval.
func Decide(p oauth.Presentation) func(store.RefreshState) store.RefreshPlan {
	if p.TouchInterval == 0 {
		p.TouchInterval = time.Minute
	}
	return func(st store.RefreshState) store.RefreshPlan { return oauth.DecideRefresh(st, p) }
}

func rotate(t *testing.T, s store.Store, h token.Hash, req oauth.Presentation) store.RefreshResult {
	t.Helper()
	if req.Successor == (token.Hash{}) {
		req.Successor = NewHash(t)
	}
	if req.TTL == 0 {
		req.TTL = 7 * 24 * time.Hour
	}
	if req.ClientID == "" {
		req.ClientID = "app"
	}
	res, err := s.RotateRefreshToken(context.Background(), h, Decide(req))
	if err != nil {
		t.Fatalf("RotateRefreshToken: %v", err)
	}
	return res
}

func testRefreshRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	sess, rt := refreshFamily(t, s, "alice")
	now := base.Add(time.Hour)
	r1 := rotate(t, s, rt.Hash, oauth.Presentation{Now: now})
	if r1.Outcome != store.RefreshRotated || r1.Successor.SessionID != sess.ID || r1.Successor.Scope != "read write" || r1.Successor.ClientID != "app" {
		t.Fatalf("first use: %+v", r1)
	}
	if got, _ := s.SessionByID(ctx, sess.ID); !got.LastSeenAt.Equal(now) {
		t.Fatalf("refresh did not slide the session's last-seen: %v", got.LastSeenAt)
	}
	// A wider scope is refused; a narrower one is allowed, but the
	// successor keeps the family's scope (RFC 6749 §6): narrowing applies
	// to the access token of that one request.
	wide := rotate(t, s, r1.Successor.Hash, oauth.Presentation{Now: now, Scope: "read admin"})
	if wide.Outcome != store.RefreshRefused || wide.Reason != oauth.ReasonScopeExceeded {
		t.Fatalf("wider scope: %+v", wide)
	}
	r2 := rotate(t, s, r1.Successor.Hash, oauth.Presentation{Now: now.Add(time.Minute), Scope: "read"})
	if r2.Outcome != store.RefreshRotated || r2.Successor.Scope != "read write" {
		t.Fatalf("narrower scope: %+v", r2)
	}
	// Presenting the first token again, long after: theft. The family dies.
	reuse := rotate(t, s, rt.Hash, oauth.Presentation{Now: now.Add(time.Hour)})
	if reuse.Outcome != store.RefreshReused {
		t.Fatalf("reuse: %+v", reuse)
	}
	got, _ := s.SessionByID(ctx, sess.ID)
	if !got.Revoked() || got.RevokeReason != "refresh_reuse" {
		t.Fatalf("reuse did not revoke the family's session: %+v", got)
	}
	feed, _ := s.Revocations(ctx, 0, 10)
	if len(feed) != 1 || feed[0].SessionID != sess.ID || feed[0].Reason != "refresh_reuse" {
		t.Fatalf("feed after reuse: %+v", feed)
	}
	// The newest token of the family is dead too.
	if _, err := s.RotateRefreshToken(ctx, r2.Successor.Hash, Decide(oauth.Presentation{ClientID: "app", Successor: NewHash(t), Now: now.Add(2 * time.Hour), TTL: time.Hour})); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("successor after the family was revoked: %v, want ErrNotFound", err)
	}
	if _, err := s.RotateRefreshToken(ctx, NewHash(t), Decide(oauth.Presentation{ClientID: "app", Now: now})); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}

func testRefreshGraceAndRefusals(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, rt := refreshFamily(t, s, "alice")
	now := base.Add(time.Hour)
	first := rotate(t, s, rt.Hash, oauth.Presentation{Now: now, Grace: 5 * time.Second})
	if first.Outcome != store.RefreshRotated {
		t.Fatalf("first: %+v", first)
	}
	retry := rotate(t, s, rt.Hash, oauth.Presentation{Now: now.Add(2 * time.Second), Grace: 5 * time.Second})
	if retry.Outcome != store.RefreshGraceRetry || retry.Successor.Hash == (token.Hash{}) {
		t.Fatalf("retry within grace: %+v", retry)
	}
	// The retry replaces the unused first successor: one live chain only.
	// The replaced one is a tombstone, no longer usable.
	if got, err := s.RefreshTokenByHash(ctx, first.Successor.Hash); err == nil && got.UsedAt.IsZero() {
		t.Fatalf("the replaced successor is still live: %+v", got)
	}
	if got, _ := s.SessionByID(ctx, retry.Session.ID); got.Revoked() {
		t.Fatal("grace retry revoked the family")
	}
	late := rotate(t, s, rt.Hash, oauth.Presentation{Now: now.Add(6 * time.Second), Grace: 5 * time.Second})
	if late.Outcome != store.RefreshReused {
		t.Fatalf("after grace: %+v", late)
	}

	// Refusals change nothing.
	sess2, rt2 := refreshFamily(t, s, "bob")
	if r := rotate(t, s, rt2.Hash, oauth.Presentation{Now: rt2.ExpiresAt}); r.Outcome != store.RefreshRefused {
		t.Fatalf("expired token: %+v", r)
	}
	s.RevokeSession(ctx, sess2.ID, now, "logout")
	if r := rotate(t, s, rt2.Hash, oauth.Presentation{Now: now}); r.Outcome != store.RefreshRefused {
		t.Fatalf("revoked session: %+v", r)
	}
	_, rt3 := refreshFamily(t, s, "carol")
	if r := rotate(t, s, rt3.Hash, oauth.Presentation{Now: base.Add(8 * 24 * time.Hour)}); r.Outcome != store.RefreshRefused {
		t.Fatalf("idle-expired session: %+v", r)
	}
	if r := rotate(t, s, rt3.Hash, oauth.Presentation{ClientID: "other", Now: now}); r.Outcome != store.RefreshRefused {
		t.Fatalf("other client: %+v", r)
	}
	if r := rotate(t, s, rt3.Hash, oauth.Presentation{Now: now, Scope: "admin"}); r.Outcome != store.RefreshRefused {
		t.Fatalf("wider scope: %+v", r)
	}
	if r := rotate(t, s, rt3.Hash, oauth.Presentation{Now: now}); r.Outcome != store.RefreshRotated {
		t.Fatalf("after refusals the token must still work: %+v", r)
	}

	// A thief replaying a stolen token inside the grace window gets a
	// successor, but cannot take the family over quietly: when the
	// legitimate client presents the successor the retry replaced, that is
	// reuse, and the whole family (the thief's token included) dies.
	{
		sess, stolen := refreshFamily(t, s, "erin")
		legit := rotate(t, s, stolen.Hash, oauth.Presentation{Now: now, Grace: 5 * time.Second})
		thief := rotate(t, s, stolen.Hash, oauth.Presentation{Now: now.Add(time.Second), Grace: 5 * time.Second})
		if legit.Outcome != store.RefreshRotated || thief.Outcome != store.RefreshGraceRetry {
			t.Fatalf("setup: %v, %v", legit.Outcome, thief.Outcome)
		}
		if r := rotate(t, s, legit.Successor.Hash, oauth.Presentation{Now: now.Add(2 * time.Second), Grace: 5 * time.Second}); r.Outcome != store.RefreshReused {
			t.Fatalf("presenting a replaced successor: %+v, want reuse", r)
		}
		if got, _ := s.SessionByID(ctx, sess.ID); !got.Revoked() {
			t.Fatal("the family survived a replaced successor's presentation")
		}
		if _, err := s.RotateRefreshToken(ctx, thief.Successor.Hash, Decide(oauth.Presentation{ClientID: "app", Successor: NewHash(t), Now: now.Add(3 * time.Second), TTL: time.Hour})); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the thief's successor after the family died: %v, want ErrNotFound", err)
		}
	}

	// A rotated token is reuse whatever else is wrong with the request:
	// another client within the grace window, or a scope that would be
	// refused, must not let a thief probe without tripping the alarm.
	for i, tt := range []struct {
		name string
		req  oauth.Presentation
	}{
		{"another client within grace", oauth.Presentation{ClientID: "other", Grace: 5 * time.Second}},
		{"wider scope outside grace", oauth.Presentation{Scope: "admin"}},
	} {
		name, req := tt.name, tt.req
		sess, rt := refreshFamily(t, s, fmt.Sprintf("dave%d", i))
		if r := rotate(t, s, rt.Hash, oauth.Presentation{Now: now, Grace: 5 * time.Second}); r.Outcome != store.RefreshRotated {
			t.Fatalf("%s: first use: %+v", name, r)
		}
		req.Now = now.Add(time.Second)
		if r := rotate(t, s, rt.Hash, req); r.Outcome != store.RefreshReused {
			t.Fatalf("%s: %+v, want reuse", name, r)
		}
		if got, _ := s.SessionByID(ctx, sess.ID); !got.Revoked() {
			t.Fatalf("%s: the family survived", name)
		}
	}
}

// testRefreshFailureIsolated: a presentation that fails in the database
// (here its successor's hash collides with a stored token) leaves no trace,
// and presentations running beside it, possibly in the same transaction,
// still succeed.
func testRefreshFailureIsolated(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, victim := refreshFamily(t, s, "isolated-victim")
	_, taken := refreshFamily(t, s, "isolated-taken")
	const n = 32
	fams := make([]store.RefreshToken, n)
	for i := range fams {
		_, fams[i] = refreshFamily(t, s, fmt.Sprintf("isolated%d", i))
	}
	now := base.Add(time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, n)
	var badErr error
	wg.Add(n + 1)
	go func() {
		defer wg.Done()
		_, badErr = s.RotateRefreshToken(ctx, victim.Hash, Decide(oauth.Presentation{ClientID: "app", Successor: taken.Hash, Now: now, TTL: time.Hour}))
	}()
	for i := range fams {
		go func() {
			defer wg.Done()
			var res store.RefreshResult
			res, errs[i] = s.RotateRefreshToken(ctx, fams[i].Hash, Decide(oauth.Presentation{ClientID: "app", Successor: NewHash(t), Now: now, TTL: time.Hour}))
			if errs[i] == nil && res.Outcome != store.RefreshRotated {
				errs[i] = fmt.Errorf("outcome %v", res.Outcome)
			}
		}()
	}
	wg.Wait()
	if badErr == nil {
		t.Fatal("a successor colliding with a stored token was accepted")
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("presentation %d failed beside the bad one: %v", i, err)
		}
	}
	if got, err := s.RefreshTokenByHash(ctx, victim.Hash); err != nil || !got.UsedAt.IsZero() {
		t.Fatalf("the failed presentation left a trace: %+v, %v", got, err)
	}
	if r := rotate(t, s, victim.Hash, oauth.Presentation{Now: now}); r.Outcome != store.RefreshRotated {
		t.Fatalf("the token of the failed presentation no longer rotates: %+v", r)
	}
}

// testRefreshRace: 64 concurrent presentations of one token. Linearized,
// they are: one rotation, then (with grace) the one grace retry a token
// gets, then one reuse that ends the family and ErrNotFound for every later
// one, whose token reuse deleted: parallel replays never yield more than
// two live pairs, and then none (issue 10, L1). Any other error is a
// failure.
func testRefreshRace(t *testing.T, s store.Store) {
	const notFound = store.RefreshOutcome(-1) // counts presentations answered ErrNotFound
	for _, grace := range []time.Duration{0, time.Minute} {
		sess, rt := refreshFamily(t, s, "racer"+grace.String())
		const n = 64
		var wg sync.WaitGroup
		var mu sync.Mutex
		count := map[store.RefreshOutcome]int{}
		var errs []error
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := s.RotateRefreshToken(context.Background(), rt.Hash, Decide(oauth.Presentation{
					ClientID: "app", Successor: NewHash(t), Now: base.Add(time.Hour), TTL: time.Hour, Grace: grace}))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, store.ErrNotFound):
					count[notFound]++
				case err != nil:
					errs = append(errs, err)
				default:
					count[res.Outcome]++
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("grace %v: %d presentations failed, first: %v; want only outcomes or ErrNotFound", grace, len(errs), errs[0])
		}
		if count[store.RefreshRotated] != 1 {
			t.Fatalf("grace %v: %d winners, want exactly 1 (%v)", grace, count[store.RefreshRotated], count)
		}
		var want map[store.RefreshOutcome]int
		if grace > 0 {
			want = map[store.RefreshOutcome]int{store.RefreshRotated: 1, store.RefreshGraceRetry: 1, store.RefreshReused: 1, notFound: n - 3}
		} else {
			want = map[store.RefreshOutcome]int{store.RefreshRotated: 1, store.RefreshReused: 1, notFound: n - 2}
		}
		if !reflect.DeepEqual(count, want) {
			t.Fatalf("grace %v: outcomes %v, want %v (-1 is ErrNotFound)", grace, count, want)
		}
		got, _ := s.SessionByID(context.Background(), sess.ID)
		if !got.Revoked() || got.RevokeReason != oauth.RevokeReasonReuse {
			t.Fatalf("grace %v: session after the race: %+v", grace, got)
		}
	}
}

func testDenylist(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	old := newSession(t, u.ID, base)
	recent := newSession(t, u.ID, base)
	mustCreate(t, s, old, 0)
	mustCreate(t, s, recent, 0)
	s.RevokeSession(ctx, old.ID, base, "logout")
	s.RevokeSession(ctx, recent.ID, base.Add(time.Hour), "logout")
	if err := s.DenyAccessToken(ctx, "jti-live", u.ID, base.Add(2*time.Hour), base.Add(time.Hour), "revoked"); err != nil {
		t.Fatal(err)
	}
	if err := s.DenyAccessToken(ctx, "jti-live", u.ID, base.Add(2*time.Hour), base.Add(time.Hour), "revoked"); err != nil {
		t.Fatalf("denying twice: %v", err)
	}
	s.DenyAccessToken(ctx, "jti-dead", u.ID, base.Add(30*time.Minute), base.Add(10*time.Minute), "revoked")
	feed, _ := s.Revocations(ctx, 0, 100)
	if len(feed) != 4 {
		t.Fatalf("feed has %d entries, want 2 sessions + 2 denials (no duplicate)", len(feed))
	}
	live := feed[2]
	if live.JTI != "jti-live" || live.SessionID != "" || !live.ExpiresAt.Equal(base.Add(2*time.Hour)) || live.UserID != u.ID {
		t.Fatalf("denial entry %+v", live)
	}
	// Deleting old entries never moves the feed's high-water mark back: a
	// follower's cursor must not look ahead of the feed afterwards.
	last, err := s.LastRevocationSeq(ctx)
	if err != nil || last != feed[3].Seq {
		t.Fatalf("LastRevocationSeq = %d, %v; want %d", last, err, feed[3].Seq)
	}
	defer func() {
		if _, err := s.DeleteExpired(ctx, base.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if left, _ := s.Revocations(ctx, 0, 100); len(left) != 0 {
			t.Fatalf("DeleteExpired left %d feed entries", len(left))
		}
		if after, err := s.LastRevocationSeq(ctx); err != nil || after != last {
			t.Fatalf("LastRevocationSeq after deleting the feed = %d, %v; want %d", after, err, last)
		}
	}()
	now := base.Add(time.Hour + time.Minute)
	act, err := s.ActiveRevocations(ctx, now.Add(-15*time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range act {
		got = append(got, r.SessionID+r.JTI)
	}
	if !reflect.DeepEqual(got, []string{recent.ID, "jti-live"}) {
		t.Fatalf("ActiveRevocations = %v, want the recent session and the unexpired denial", got)
	}
}

func testRefreshTokenByHash(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, rt := refreshFamily(t, s, "alice")
	got, err := s.RefreshTokenByHash(ctx, rt.Hash)
	if err != nil || !reflect.DeepEqual(got, rt) {
		t.Fatalf("RefreshTokenByHash = %+v, %v; want %+v", got, err, rt)
	}
	rotate(t, s, rt.Hash, oauth.Presentation{Now: base.Add(time.Minute)})
	if got, _ := s.RefreshTokenByHash(ctx, rt.Hash); !got.UsedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("UsedAt after rotation: %v", got.UsedAt)
	}
	if _, err := s.RefreshTokenByHash(ctx, NewHash(t)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

func testAccessTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := store.AccessToken{Hash: NewHash(t), ID: "jti-1", ClientID: "c1", Subject: "c1", Scope: "read", CreatedAt: base, ExpiresAt: base.Add(15 * time.Minute)}
	if err := s.CreateAccessToken(ctx, at); err != nil {
		t.Fatal(err)
	}
	got, err := s.AccessTokenByHash(ctx, at.Hash)
	if err != nil || !reflect.DeepEqual(got, at) {
		t.Fatalf("AccessTokenByHash = %+v, %v", got, err)
	}
	dup := at
	dup.Hash = NewHash(t)
	if err := s.CreateAccessToken(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate jti: %v", err)
	}
	if _, err := s.AccessTokenByHash(ctx, NewHash(t)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := s.DeleteExpired(ctx, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AccessTokenByHash(ctx, at.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("expired access token not deleted")
	}
}

// testRefreshGraceCannotFork: a thief replaying an old token inside the
// grace window, after the client already used its successor, is reuse.
func testRefreshGraceCannotFork(t *testing.T, s store.Store) {
	ctx := context.Background()
	sess, rt0 := refreshFamily(t, s, "alice")
	now := base.Add(time.Hour)
	g := 5 * time.Second
	r1 := rotate(t, s, rt0.Hash, oauth.Presentation{Now: now, Grace: g})
	r2 := rotate(t, s, r1.Successor.Hash, oauth.Presentation{Now: now.Add(time.Second), Grace: g})
	if r2.Outcome != store.RefreshRotated {
		t.Fatalf("client's second rotation: %+v", r2)
	}
	thief := rotate(t, s, rt0.Hash, oauth.Presentation{Now: now.Add(2 * time.Second), Grace: g})
	if thief.Outcome != store.RefreshReused {
		t.Fatalf("replay after the successor was used: %+v, want reuse", thief)
	}
	if got, _ := s.SessionByID(ctx, sess.ID); !got.Revoked() {
		t.Fatal("the family survived a replay")
	}
}

// testRefreshTouch: a rotation writes the session's last-seen time only when
// the plan says so (the policy skips it within the touch interval), and a
// touch never moves it backwards.
func testRefreshTouch(t *testing.T, s store.Store) {
	ctx := context.Background()
	sess, rt := refreshFamily(t, s, "frank")
	at := base.Add(5 * time.Minute)
	r := rotate(t, s, rt.Hash, oauth.Presentation{Now: at, TouchInterval: 10 * time.Minute})
	if r.Outcome != store.RefreshRotated {
		t.Fatalf("rotation: %+v", r)
	}
	if got, _ := s.SessionByID(ctx, sess.ID); !got.LastSeenAt.Equal(base) {
		t.Fatalf("a rotation within the touch interval wrote last-seen: %v, want %v", got.LastSeenAt, base)
	}
	backwards := func(st store.RefreshState) store.RefreshPlan {
		p := oauth.DecideRefresh(st, oauth.Presentation{ClientID: "app", Successor: NewHash(t), Now: at.Add(time.Minute), TTL: time.Hour})
		p.TouchAt = base.Add(-time.Hour)
		return p
	}
	if r, err := s.RotateRefreshToken(ctx, r.Successor.Hash, backwards); err != nil || r.Outcome != store.RefreshRotated {
		t.Fatalf("rotation: %+v, %v", r, err)
	}
	if got, _ := s.SessionByID(ctx, sess.ID); !got.LastSeenAt.Equal(base) {
		t.Fatalf("a touch moved last-seen backwards: %v, want %v", got.LastSeenAt, base)
	}
}
