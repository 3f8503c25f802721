package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// testUserDisable: disabling revokes every live session in the same
// transaction, feed entries included, and refuses new sessions until the
// user is enabled again.
func testUserDisable(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	a, b := newSession(t, u.ID, base), newSession(t, u.ID, base)
	mustCreate(t, s, a, 0)
	mustCreate(t, s, b, 0)
	before, err := s.LastRevocationSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := base.Add(time.Minute)
	got, ids, err := s.UpdateUser(ctx, u.ID, store.UserUpdate{At: at, Disable: true, RevokeReason: "user_disabled"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.DisabledAt.Equal(at) || len(ids) != 2 || !contains(ids, a.ID) || !contains(ids, b.ID) {
		t.Fatalf("disable: user %+v, revoked %v", got, ids)
	}
	feed, err := s.Revocations(ctx, before, 10)
	if err != nil || len(feed) != 2 || feed[0].Reason != "user_disabled" || feed[0].UserID != u.ID {
		t.Fatalf("feed after disable: %+v, %v", feed, err)
	}
	if x, _ := s.SessionByID(ctx, a.ID); !x.Revoked() {
		t.Fatal("session not revoked by disable")
	}
	if _, err := s.CreateSession(ctx, newSession(t, u.ID, at), store.CreateOptions{}); !errors.Is(err, store.ErrStale) {
		t.Fatalf("CreateSession for a disabled user: %v, want ErrStale", err)
	}
	// Disabling again keeps the first time.
	if got, _, err = s.UpdateUser(ctx, u.ID, store.UserUpdate{At: at.Add(time.Hour), Disable: true}); err != nil || !got.DisabledAt.Equal(at) {
		t.Fatalf("disable twice: %+v, %v", got, err)
	}
	if got, _, err = s.UpdateUser(ctx, u.ID, store.UserUpdate{At: at, Enable: true}); err != nil || !got.DisabledAt.IsZero() {
		t.Fatalf("enable: %+v, %v", got, err)
	}
	mustCreate(t, s, newSession(t, u.ID, at), 0)
	if _, _, err := s.UpdateUser(ctx, "nope", store.UserUpdate{At: at, Disable: true}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

// testUserResetPassword: a reset replaces the hash, sets the flag and
// revokes sessions at once; SetPasswordHash (the user's own change)
// clears the flag.
func testUserResetPassword(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "alice")
	sess := newSession(t, u.ID, base)
	mustCreate(t, s, sess, 0)
	at := base.Add(time.Minute)
	got, ids, err := s.UpdateUser(ctx, u.ID, store.UserUpdate{At: at, PasswordHash: "reset-hash", MustChangePassword: true, RevokeReason: "password_reset"})
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "reset-hash" || !got.PasswordChangedAt.Equal(at) || !got.MustChangePassword || len(ids) != 1 {
		t.Fatalf("reset: %+v, revoked %v", got, ids)
	}
	if got, _ = s.UserByID(ctx, u.ID); !got.MustChangePassword {
		t.Fatal("MustChangePassword not stored")
	}
	if err := s.SetPasswordHash(ctx, u.ID, "own-hash", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.UserByID(ctx, u.ID); got.MustChangePassword {
		t.Fatal("SetPasswordHash left MustChangePassword set")
	}
	// A reset and a disabling in one update (an administrator's one
	// decision): both land, and the sessions end once, with its reason.
	v := newUser(t, s, "bob")
	mustCreate(t, s, newSession(t, v.ID, base), 0)
	got, ids, err = s.UpdateUser(ctx, v.ID, store.UserUpdate{At: at, Disable: true, PasswordHash: "reset-hash-2", RevokeReason: "user_disabled"})
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "reset-hash-2" || !got.DisabledAt.Equal(at) || got.MustChangePassword || len(ids) != 1 {
		t.Fatalf("reset and disable: %+v, revoked %v", got, ids)
	}
}

// testUserErase: erasing keeps only ids: the username becomes the
// tombstone, the hash goes, the sessions lose IP and user agent, their
// refresh and opaque access tokens are deleted; the feed keeps ids.
func testUserErase(t *testing.T, s store.Store) {
	ctx := context.Background()
	sess, rt := refreshFamily(t, s, "alice")
	uid := sess.UserID
	acc := store.AccessToken{Hash: NewHash(t), ID: "jti-erase", ClientID: "app", Subject: uid, Scope: "read",
		SessionID: sess.ID, CreatedAt: base, ExpiresAt: base.Add(15 * time.Minute)}
	if err := s.CreateAccessToken(ctx, acc); err != nil {
		t.Fatal(err)
	}
	at := base.Add(time.Minute)
	tomb := "deleted:" + uid
	got, ids, err := s.UpdateUser(ctx, uid, store.UserUpdate{At: at, Erase: true, Tombstone: tomb, RevokeReason: "user_deleted"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != tomb || got.PasswordHash != "" || !got.DeletedAt.Equal(at) || !got.DisabledAt.Equal(at) || len(ids) != 1 {
		t.Fatalf("erase: %+v, revoked %v", got, ids)
	}
	if _, err := s.UserByUsername(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("username still found: %v", err)
	}
	x, err := s.SessionByID(ctx, sess.ID)
	if err != nil || !x.Revoked() || x.IP != "" || x.UserAgent != "" {
		t.Fatalf("session after erase: %+v, %v", x, err)
	}
	if _, err := s.RefreshTokenByHash(ctx, rt.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refresh token after erase: %v", err)
	}
	if _, err := s.AccessTokenByHash(ctx, acc.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("access token after erase: %v", err)
	}
	if _, _, err := s.UpdateUser(ctx, uid, store.UserUpdate{At: at, Enable: true}); !errors.Is(err, store.ErrStale) {
		t.Fatalf("update after erase: %v, want ErrStale", err)
	}
	// The name is free again.
	newUser(t, s, "alice")
	if us, err := s.ListUsersPage(ctx, store.UserQuery{Limit: 10}); err != nil || len(us) != 1 || us[0].Username != "alice" || us[0].ID == uid {
		t.Fatalf("ListUsersPage without erased: %+v, %v", us, err)
	}
}

// testUsersPage: cursor pages in ID order with every filter.
func testUsersPage(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		u := store.User{ID: fmt.Sprintf("p-%02d", i), Username: fmt.Sprintf("user_%d", i), PasswordHash: "h", CreatedAt: base, PasswordChangedAt: base}
		if i == 4 {
			u.Username = "zoë_other" // a prefix of characters beyond ASCII
		}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	if _, _, err := s.UpdateUser(ctx, ids[1], store.UserUpdate{At: base, Disable: true}); err != nil {
		t.Fatal(err)
	}
	page := func(q store.UserQuery) []string {
		t.Helper()
		us, err := s.ListUsersPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	yes, no := true, false
	for _, c := range []struct {
		q    store.UserQuery
		want string
	}{
		{store.UserQuery{Limit: 2}, "[p-00 p-01]"},
		{store.UserQuery{Limit: 2, After: "p-01"}, "[p-02 p-03]"},
		{store.UserQuery{Limit: 2, After: "p-03"}, "[p-04]"},
		{store.UserQuery{Limit: 10, Prefix: "user_"}, "[p-00 p-01 p-02 p-03]"},
		{store.UserQuery{Limit: 10, Prefix: "user%"}, "[]"},
		{store.UserQuery{Limit: 10, Prefix: "zoë"}, "[p-04]"},
		{store.UserQuery{Limit: 10, Disabled: &yes}, "[p-01]"},
		{store.UserQuery{Limit: 10, Disabled: &no, Prefix: "user"}, "[p-00 p-02 p-03]"},
	} {
		if got := fmt.Sprint(page(c.q)); got != c.want {
			t.Errorf("ListUsersPage(%+v) = %s, want %s", c.q, got, c.want)
		}
	}
}
