package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// Run runs the whole suite. newStore must return an empty, migrated store
// that the suite may close.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Users", testUsers},
		{"ReadyAndCheck", testReadyAndCheck},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionConflict", testSessionConflict},
		{"ListUserSessions", testListUserSessions},
		{"SessionLimit", testSessionLimit},
		{"SessionLimitSkipsIdle", testSessionLimitSkipsIdle},
		{"CreateSessionStalePassword", testCreateSessionStalePassword},
		{"UpgradePasswordHash", testUpgradePasswordHash},
		{"Touch", testTouch},
		{"RevokeSession", testRevokeSession},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"RevocationFeed", testRevocationFeed},
		{"FeedNeverSkips", testFeedNeverSkips},
		{"CountAndDeleteExpired", testCountAndDeleteExpired},
		{"ConcurrentRevoke", testConcurrentRevoke},
		{"ConcurrentSessionLimit", testConcurrentSessionLimit},
		{"SigningKeys", testSigningKeys},
		{"Clients", testClients},
		{"ClientUpdate", testClientUpdate},
		{"ClientDelete", testClientDelete},
		{"RefreshRotation", testRefreshRotation},
		{"RefreshGraceAndRefusals", testRefreshGraceAndRefusals},
		{"RefreshRace", testRefreshRace},
		{"RefreshFailureIsolated", testRefreshFailureIsolated},
		{"RefreshGraceCannotFork", testRefreshGraceCannotFork},
		{"RefreshTouch", testRefreshTouch},
		{"Denylist", testDenylist},
		{"RefreshTokenByHash", testRefreshTokenByHash},
		{"AccessTokens", testAccessTokens},
		{"ConcurrentKeyRotation", testConcurrentKeyRotation},
		{"UserDisable", testUserDisable},
		{"UserResetPassword", testUserResetPassword},
		{"UserErase", testUserErase},
		{"UsersPage", testUsersPage},
		{"ClusterSettings", testClusterSettings},
		{"Leases", testLeases},
		{"RevokeSigningKey", testRevokeSigningKey},
		{"RefreshGraceOrigin", testRefreshGraceOrigin},
		{"ClientPermissions", testClientPermissions},
		{"TOTP", testTOTP},
		{"TOTPStepRace", testTOTPStepRace},
		{"RecoveryCodes", testRecoveryCodes},
		{"RecoveryCodeRace", testRecoveryCodeRace},
		{"MFAChallenge", testMFAChallenge},
		{"MFAChallengeRace", testMFAChallengeRace},
		{"AuditLog", testAuditLog},
		{"AuditConcurrentAppend", testAuditConcurrentAppend},
		{"WebAuthnCredentials", testWebAuthnCredentials},
		{"WebAuthnCounterRace", testWebAuthnCounterRace},
		{"WebAuthnCeremony", testWebAuthnCeremony},
		{"MarkStepUp", testMarkStepUp},
		{"ConcurrentMarkStepUp", testConcurrentMarkStepUp},
		{"DetectState", testDetectState},
		{"DetectStateExpiry", testDetectStateExpiry},
		{"Alerts", testAlerts},
		{"DeliveryOutbox", testDeliveryOutbox},
		{"DeliveryClaimRace", testDeliveryClaimRace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

// base is a fixed instant with whole microseconds, the precision every
// backend must keep.
var base = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

var seq int

func newUser(t *testing.T, s store.Store, name string) store.User {
	t.Helper()
	seq++
	u := store.User{
		ID:                fmt.Sprintf("u-%s-%d", name, seq),
		Username:          name,
		PasswordHash:      "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		CreatedAt:         base,
		PasswordChangedAt: base,
	}
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func newSession(t *testing.T, userID string, created time.Time) store.Session {
	t.Helper()
	tok, err := token.New(token.Session)
	if err != nil {
		t.Fatal(err)
	}
	seq++
	return store.Session{
		ID:          fmt.Sprintf("s-%06d", seq),
		TokenHash:   tok.Hash(),
		UserID:      userID,
		CreatedAt:   created,
		AuthTime:    created,
		ExpiresAt:   created.Add(12 * time.Hour),
		LastSeenAt:  created,
		IdleTimeout: 30 * time.Minute,
		IP:          "192.0.2.1",
		UserAgent:   "storetest/1.0",
		AMR:         []string{"pwd", "otp"},
		AAL:         2,
	}
}

func mustCreate(t *testing.T, s store.Store, sess store.Session, max int) []string {
	t.Helper()
	ev, err := s.CreateSession(context.Background(), sess, store.CreateOptions{MaxPerUser: max})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return ev
}

func testUsers(t *testing.T, s store.Store) {
	ctx := context.Background()
	alice := newUser(t, s, "alice")
	newUser(t, s, "bob")

	dup := alice
	dup.ID = "other-id"
	if err := s.CreateUser(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate username: got %v, want ErrConflict", err)
	}
	got, err := s.UserByID(ctx, alice.ID)
	if err != nil || !reflect.DeepEqual(got, alice) {
		t.Fatalf("UserByID = %+v, %v; want %+v", got, err, alice)
	}
	got, err = s.UserByUsername(ctx, "alice")
	if err != nil || got.ID != alice.ID {
		t.Fatalf("UserByUsername = %+v, %v", got, err)
	}
	for _, fn := range []func() error{
		func() error { _, err := s.UserByID(ctx, "nope"); return err },
		func() error { _, err := s.UserByUsername(ctx, "ALICE"); return err },
		func() error { return s.SetPasswordHash(ctx, "nope", "x", base) },
	} {
		if err := fn(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	}
	users, err := s.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Username != "alice" || users[1].Username != "bob" {
		t.Fatalf("ListUsers = %+v, %v", users, err)
	}
	later := base.Add(time.Hour)
	if err := s.SetPasswordHash(ctx, alice.ID, "new-hash", later); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByID(ctx, alice.ID)
	if got.PasswordHash != "new-hash" || !got.PasswordChangedAt.Equal(later) {
		t.Fatalf("after SetPasswordHash: %+v", got)
	}
}

func testSessionRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	want := newSession(t, u.ID, base)
	mustCreate(t, s, want, 0)
	for name, get := range map[string]func() (store.Session, error){
		"byHash": func() (store.Session, error) { return s.SessionByHash(ctx, want.TokenHash) },
		"byID":   func() (store.Session, error) { return s.SessionByID(ctx, want.ID) },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
	var other token.Hash
	other[0] = 1
	if _, err := s.SessionByHash(ctx, other); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	if _, err := s.SessionByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func testSessionConflict(t *testing.T, s store.Store) {
	u := newUser(t, s, "alice")
	a := newSession(t, u.ID, base)
	mustCreate(t, s, a, 0)
	b := newSession(t, u.ID, base)
	b.TokenHash = a.TokenHash
	if _, err := s.CreateSession(context.Background(), b, store.CreateOptions{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same token hash: got %v, want ErrConflict", err)
	}
	if _, err := s.SessionByID(context.Background(), b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a failed CreateSession left a row behind")
	}
}

func testListUserSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	v := newUser(t, s, "bob")
	old := newSession(t, u.ID, base)
	mid := newSession(t, u.ID, base.Add(time.Minute))
	gone := newSession(t, u.ID, base.Add(2*time.Minute))
	expired := newSession(t, u.ID, base.Add(-13*time.Hour))
	idle := newSession(t, u.ID, base.Add(-31*time.Minute))
	idle.ExpiresAt = base.Add(11 * time.Hour)
	long := newSession(t, u.ID, base.Add(-2*time.Hour)) // a refresh-token session: long idle timeout
	long.IdleTimeout = 7 * 24 * time.Hour
	others := newSession(t, v.ID, base)
	for _, x := range []store.Session{old, mid, gone, expired, idle, long, others} {
		mustCreate(t, s, x, 0)
	}
	if _, err := s.RevokeSession(ctx, gone.ID, base.Add(3*time.Minute), "logout"); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListUserSessions(ctx, u.ID, base.Add(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if ids := sessionIDs(got); !reflect.DeepEqual(ids, []string{mid.ID, old.ID, long.ID}) {
		t.Fatalf("ListUserSessions = %v, want [%s %s %s] (newest first, no revoked, expired or idle)", ids, mid.ID, old.ID, long.ID)
	}
}

func sessionIDs(ss []store.Session) []string {
	ids := []string{}
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

func testSessionLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	var all []store.Session
	for i := range 3 {
		x := newSession(t, u.ID, base.Add(time.Duration(i)*time.Minute))
		all = append(all, x)
		if ev := mustCreate(t, s, x, 3); len(ev) != 0 {
			t.Fatalf("evicted %v below the limit", ev)
		}
	}
	fourth := newSession(t, u.ID, base.Add(10*time.Minute))
	ev := mustCreate(t, s, fourth, 3)
	if !reflect.DeepEqual(ev, []string{all[0].ID}) {
		t.Fatalf("evicted %v, want the oldest %s", ev, all[0].ID)
	}
	got, _ := s.SessionByID(ctx, all[0].ID)
	if !got.Revoked() || got.RevokeReason != "session_limit" {
		t.Fatalf("evicted session not revoked: %+v", got)
	}
	live, _ := s.ListUserSessions(ctx, u.ID, fourth.CreatedAt)
	if len(live) != 3 {
		t.Fatalf("%d live sessions, want 3", len(live))
	}
	feed, _ := s.Revocations(ctx, 0, 10)
	if len(feed) != 1 || feed[0].SessionID != all[0].ID || feed[0].Reason != "session_limit" || feed[0].UserID != u.ID {
		t.Fatalf("feed = %+v", feed)
	}
}

func testTouch(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	a := newSession(t, u.ID, base)
	b := newSession(t, u.ID, base)
	mustCreate(t, s, a, 0)
	mustCreate(t, s, b, 0)
	later := base.Add(5 * time.Minute)
	if err := s.TouchSessions(ctx, map[string]time.Time{a.ID: later, b.ID: later, "unknown": later}); err != nil {
		t.Fatal(err)
	}
	// An older, late-arriving batch must not move last-seen backwards.
	if err := s.TouchSessions(ctx, map[string]time.Time{a.ID: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID, b.ID} {
		got, _ := s.SessionByID(ctx, id)
		if !got.LastSeenAt.Equal(later) {
			t.Fatalf("LastSeenAt = %v, want %v", got.LastSeenAt, later)
		}
	}
	if err := s.TouchSessions(ctx, nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
}

func testRevokeSession(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	a := newSession(t, u.ID, base)
	mustCreate(t, s, a, 0)
	at := base.Add(time.Minute)
	got, err := s.RevokeSession(ctx, a.ID, at, "logout")
	if err != nil {
		t.Fatal(err)
	}
	if !got.RevokedAt.Equal(at) || got.RevokeReason != "logout" || got.UserID != u.ID {
		t.Fatalf("RevokeSession returned %+v", got)
	}
	// Again: succeeds, keeps the first time and reason, adds no feed entry.
	got, err = s.RevokeSession(ctx, a.ID, at.Add(time.Hour), "admin")
	if err != nil || !got.RevokedAt.Equal(at) || got.RevokeReason != "logout" {
		t.Fatalf("second revoke: %+v, %v", got, err)
	}
	stored, _ := s.SessionByHash(ctx, a.TokenHash)
	if !stored.Revoked() {
		t.Fatal("revocation not visible by hash")
	}
	if feed, _ := s.Revocations(ctx, 0, 10); len(feed) != 1 {
		t.Fatalf("feed has %d entries, want 1", len(feed))
	}
	if _, err := s.RevokeSession(ctx, "nope", at, "logout"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
}

func testRevokeUserSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	v := newUser(t, s, "bob")
	keep := newSession(t, u.ID, base)
	x := newSession(t, u.ID, base)
	y := newSession(t, u.ID, base)
	bobs := newSession(t, v.ID, base)
	for _, ss := range []store.Session{keep, x, y, bobs} {
		mustCreate(t, s, ss, 0)
	}
	ids, err := s.RevokeUserSessions(ctx, u.ID, keep.ID, base.Add(time.Minute), "password_change")
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || !contains(ids, x.ID) || !contains(ids, y.ID) {
		t.Fatalf("revoked %v, want %s and %s", ids, x.ID, y.ID)
	}
	for id, want := range map[string]bool{keep.ID: false, x.ID: true, y.ID: true, bobs.ID: false} {
		got, _ := s.SessionByID(ctx, id)
		if got.Revoked() != want {
			t.Fatalf("session %s revoked=%v, want %v", id, got.Revoked(), want)
		}
	}
	ids, err = s.RevokeUserSessions(ctx, u.ID, "", base.Add(2*time.Minute), "admin")
	if err != nil || !reflect.DeepEqual(ids, []string{keep.ID}) {
		t.Fatalf("revoke all: %v, %v", ids, err)
	}
	if feed, _ := s.Revocations(ctx, 0, 10); len(feed) != 3 {
		t.Fatalf("feed has %d entries, want 3", len(feed))
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func testRevocationFeed(t *testing.T, s store.Store) {
	ctx := context.Background()
	if n, err := s.LastRevocationSeq(ctx); err != nil || n != 0 {
		t.Fatalf("empty LastRevocationSeq = %d, %v", n, err)
	}
	u := newUser(t, s, "alice")
	var want []string
	for i := range 5 {
		x := newSession(t, u.ID, base)
		mustCreate(t, s, x, 0)
		if _, err := s.RevokeSession(ctx, x.ID, base.Add(time.Duration(i)*time.Second), "logout"); err != nil {
			t.Fatal(err)
		}
		want = append(want, x.ID)
	}
	all, err := s.Revocations(ctx, 0, 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("Revocations = %d entries, %v", len(all), err)
	}
	for i, r := range all {
		if r.SessionID != want[i] || (i > 0 && r.Seq <= all[i-1].Seq) {
			t.Fatalf("entry %d = %+v: feed out of order", i, r)
		}
	}
	last, _ := s.LastRevocationSeq(ctx)
	if last != all[4].Seq {
		t.Fatalf("LastRevocationSeq = %d, want %d", last, all[4].Seq)
	}
	page, _ := s.Revocations(ctx, all[1].Seq, 2)
	if len(page) != 2 || page[0].Seq != all[2].Seq || page[1].Seq != all[3].Seq {
		t.Fatalf("page after %d = %+v", all[1].Seq, page)
	}
	if rest, _ := s.Revocations(ctx, last, 10); len(rest) != 0 {
		t.Fatalf("entries after the last: %+v", rest)
	}
}

func testCountAndDeleteExpired(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	live := newSession(t, u.ID, base)
	old := newSession(t, u.ID, base.Add(-24*time.Hour))
	revoked := newSession(t, u.ID, base)
	for _, x := range []store.Session{live, old, revoked} {
		mustCreate(t, s, x, 0)
	}
	s.RevokeSession(ctx, revoked.ID, base, "logout")
	if n, err := s.CountLiveSessions(ctx, base.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("CountLiveSessions = %d, %v; want 1", n, err)
	}
	n, err := s.DeleteExpired(ctx, base.Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	if _, err := s.SessionByID(ctx, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("expired session still stored")
	}
	if _, err := s.SessionByID(ctx, live.ID); err != nil {
		t.Fatal("DeleteExpired removed a live session")
	}
}

func testConcurrentRevoke(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	x := newSession(t, u.ID, base)
	mustCreate(t, s, x, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.RevokeSession(ctx, x.ID, base.Add(time.Minute), "logout")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent revoke: %v", err)
		}
	}
	if feed, _ := s.Revocations(ctx, 0, 100); len(feed) != 1 {
		t.Fatalf("16 concurrent revokes wrote %d feed entries, want 1", len(feed))
	}
}

func testConcurrentSessionLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	const limit, n = 3, 20
	var wg sync.WaitGroup
	for i := range n {
		x := newSession(t, u.ID, base.Add(time.Duration(i)*time.Millisecond))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.CreateSession(ctx, x, store.CreateOptions{MaxPerUser: limit}); err != nil {
				t.Errorf("CreateSession: %v", err)
			}
		}()
	}
	wg.Wait()
	live, _ := s.ListUserSessions(ctx, u.ID, base)
	if len(live) != limit {
		t.Fatalf("%d live sessions after %d concurrent logins, want %d", len(live), n, limit)
	}
	if feed, _ := s.Revocations(ctx, 0, 100); len(feed) != n-limit {
		t.Fatalf("%d evictions in the feed, want %d", len(feed), n-limit)
	}
}

func newKey(id, state string, created time.Time) store.SigningKey {
	k := store.SigningKey{ID: id, Alg: "ES256", State: state, CreatedAt: created,
		PublicJWK: []byte(`{"kty":"EC","kid":"` + id + `"}`), PrivateJWE: "sealed-" + id}
	if state == store.KeyActive {
		k.ActivatedAt = created
	}
	return k
}

func keyStates(t *testing.T, s store.Store) map[string]string {
	t.Helper()
	ks, err := s.ListSigningKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, k := range ks {
		m[k.ID] = k.State
	}
	return m
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	if ks, err := s.ListSigningKeys(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("empty store: %v %v", ks, err)
	}
	a, n := newKey("k1", store.KeyActive, base), newKey("k2", store.KeyNext, base)
	if err := s.InitSigningKeys(ctx, a, n); err != nil {
		t.Fatal(err)
	}
	if err := s.InitSigningKeys(ctx, newKey("x1", store.KeyActive, base), newKey("x2", store.KeyNext, base)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second init: %v, want ErrConflict", err)
	}
	ks, _ := s.ListSigningKeys(ctx)
	if len(ks) != 2 || !reflect.DeepEqual(ks[0], a) || !reflect.DeepEqual(ks[1], n) {
		t.Fatalf("round trip:\n got %+v\nwant %+v %+v", ks, a, n)
	}
	at := base.Add(time.Hour)
	if err := s.RotateSigningKeys(ctx, "k2", newKey("k3", store.KeyNext, at), at); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rotate with a stale active kid: %v, want ErrConflict", err)
	}
	if err := s.RotateSigningKeys(ctx, "k1", newKey("k3", store.KeyNext, at), at); err != nil {
		t.Fatal(err)
	}
	if got := keyStates(t, s); !reflect.DeepEqual(got, map[string]string{"k1": "retired", "k2": "active", "k3": "next"}) {
		t.Fatalf("after rotation: %v", got)
	}
	ks, _ = s.ListSigningKeys(ctx)
	if !ks[0].RetiredAt.Equal(at) || !ks[1].ActivatedAt.Equal(at) {
		t.Fatalf("rotation times: %+v", ks)
	}
	if n, err := s.DeleteRetiredKeys(ctx, at); err != nil || n != 0 {
		t.Fatalf("delete before cutoff: %d %v", n, err)
	}
	if n, err := s.DeleteRetiredKeys(ctx, at.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("delete after cutoff: %d %v", n, err)
	}
	if got := keyStates(t, s); len(got) != 2 || got["k2"] != "active" {
		t.Fatalf("after delete: %v", got)
	}
}

func testConcurrentKeyRotation(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.InitSigningKeys(ctx, newKey("k1", store.KeyActive, base), newKey("k2", store.KeyNext, base)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.RotateSigningKeys(ctx, "k1", newKey(fmt.Sprintf("n%d", i), store.KeyNext, base), base.Add(time.Minute))
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("rotate: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d nodes rotated from the same active key, want exactly 1", wins)
	}
	active, next := 0, 0
	for _, st := range keyStates(t, s) {
		switch st {
		case store.KeyActive:
			active++
		case store.KeyNext:
			next++
		}
	}
	if active != 1 || next != 1 {
		t.Fatalf("%d active and %d next keys after concurrent rotation", active, next)
	}
}

func testSessionLimitSkipsIdle(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	active := newSession(t, u.ID, base)
	idle1 := newSession(t, u.ID, base.Add(time.Minute))
	idle2 := newSession(t, u.ID, base.Add(2*time.Minute))
	for _, x := range []store.Session{active, idle1, idle2} {
		mustCreate(t, s, x, 0)
	}
	now := base.Add(time.Hour)
	s.TouchSessions(ctx, map[string]time.Time{active.ID: now.Add(-time.Minute)})
	fourth := newSession(t, u.ID, now)
	ev, err := s.CreateSession(ctx, fourth, store.CreateOptions{MaxPerUser: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 0 {
		t.Fatalf("evicted %v: idle-expired sessions must not count against the cap", ev)
	}
	// With every session recent, the least recently seen goes, not the oldest.
	s.TouchSessions(ctx, map[string]time.Time{idle1.ID: now, idle2.ID: now.Add(-2 * time.Minute)})
	fifth := newSession(t, u.ID, now.Add(time.Second))
	ev, err = s.CreateSession(ctx, fifth, store.CreateOptions{MaxPerUser: 4})
	if err != nil || !reflect.DeepEqual(ev, []string{idle2.ID}) {
		t.Fatalf("evicted %v, %v; want the least recently seen %s", ev, err, idle2.ID)
	}
}

func testCreateSessionStalePassword(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	x := newSession(t, u.ID, base)
	if _, err := s.CreateSession(ctx, x, store.CreateOptions{PasswordChangedAt: u.PasswordChangedAt}); err != nil {
		t.Fatalf("current password epoch: %v", err)
	}
	if err := s.SetPasswordHash(ctx, u.ID, "changed", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	y := newSession(t, u.ID, base.Add(2*time.Minute))
	if _, err := s.CreateSession(ctx, y, store.CreateOptions{PasswordChangedAt: u.PasswordChangedAt}); !errors.Is(err, store.ErrStale) {
		t.Fatalf("login verified against the old password: %v, want ErrStale", err)
	}
	if _, err := s.SessionByID(ctx, y.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("a refused CreateSession stored the session")
	}
}

func testUpgradePasswordHash(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	if err := s.UpgradePasswordHash(ctx, u.ID, u.PasswordHash, "upgraded"); err != nil {
		t.Fatal(err)
	}
	got, _ := s.UserByID(ctx, u.ID)
	if got.PasswordHash != "upgraded" || !got.PasswordChangedAt.Equal(u.PasswordChangedAt) {
		t.Fatalf("after upgrade: %+v", got)
	}
	// A password change landed first: the upgrade must not undo it.
	s.SetPasswordHash(ctx, u.ID, "new-password-hash", base.Add(time.Hour))
	if err := s.UpgradePasswordHash(ctx, u.ID, "upgraded", "rehash-of-old-password"); !errors.Is(err, store.ErrStale) {
		t.Fatalf("stale upgrade: %v, want ErrStale", err)
	}
	if got, _ := s.UserByID(ctx, u.ID); got.PasswordHash != "new-password-hash" {
		t.Fatal("a stale rehash overwrote a password change")
	}
}

// testReadyAndCheck: a healthy store passes the start-up check and the
// readiness ping (both write a probe), repeatedly, and the probes touch no
// record.
func testReadyAndCheck(t *testing.T, s store.Store) {
	ctx := context.Background()
	for range 2 {
		if err := s.Check(ctx); err != nil {
			t.Fatalf("Check on a healthy store: %v", err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping on a healthy store: %v", err)
		}
	}
	if n, err := s.CountLiveSessions(ctx, time.Now()); err != nil || n != 0 {
		t.Fatalf("after probes: %d sessions, %v", n, err)
	}
}
