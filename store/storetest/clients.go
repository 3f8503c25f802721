package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// testClientUpdate: every mutable field round-trips, names stay unique.
func testClientUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := store.Client{ID: "c1", Name: "billing", SecretHash: []byte{1}, Grants: []string{"client_credentials"}, Scopes: []string{"write"}, TokenFormat: "jwt", CreatedAt: base,
		RedirectURIs: []string{"https://app.example/cb"}, AuthMethod: "client_secret_basic"}
	if err := s.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClientByID(ctx, "c1"); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if err := s.CreateClient(ctx, store.Client{ID: "c2", Name: "other", Grants: []string{"refresh_token"}, TokenFormat: "jwt", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	c.Name, c.SecretHash, c.OldSecretHash, c.OldSecretUntil = "billing-2", []byte{2}, []byte{1}, base.Add(time.Hour)
	c.Scopes, c.RedirectURIs, c.AuthMethod = []string{"read"}, []string{"https://a.example/cb", "http://127.0.0.1/cb"}, "client_secret_post"
	if err := s.UpdateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClientByID(ctx, "c1"); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("after update: %+v, %v; want %+v", got, err, c)
	}
	c.OldSecretHash, c.OldSecretUntil = nil, time.Time{}
	if err := s.UpdateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClientByID(ctx, "c1"); got.OldSecretHash != nil || !got.OldSecretUntil.IsZero() {
		t.Fatalf("old secret not cleared: %+v", got)
	}
	c.Name = "other"
	if err := s.UpdateClient(ctx, c); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("taken name: %v", err)
	}
	if err := s.UpdateClient(ctx, store.Client{ID: "nope", Name: "x"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
}

// testClientDelete: deleting a client revokes its refresh families'
// sessions and denies its opaque access tokens, feed entries included,
// and leaves other clients' tokens alone.
func testClientDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, id := range []string{"app", "keep"} {
		if err := s.CreateClient(ctx, store.Client{ID: id, Name: id, Grants: []string{"refresh_token"}, TokenFormat: "opaque", CreatedAt: base}); err != nil {
			t.Fatal(err)
		}
	}
	sess, rt := refreshFamily(t, s, "alice") // client "app"
	other := newSession(t, sess.UserID, base)
	mustCreate(t, s, other, 0)
	keepRT := store.RefreshToken{Hash: NewHash(t), SessionID: other.ID, ClientID: "keep", Scope: "", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	if err := s.CreateRefreshToken(ctx, keepRT); err != nil {
		t.Fatal(err)
	}
	acc := store.AccessToken{Hash: NewHash(t), ID: "jti-app", ClientID: "app", Subject: "app", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	if err := s.CreateAccessToken(ctx, acc); err != nil {
		t.Fatal(err)
	}
	before, _ := s.LastRevocationSeq(ctx)
	at := base.Add(time.Minute)
	del, err := s.DeleteClient(ctx, "app", at, "client_deleted")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(del.Sessions, []string{sess.ID}) || !reflect.DeepEqual(del.JTIs, []string{"jti-app"}) {
		t.Fatalf("DeleteClient = %+v", del)
	}
	if _, err := s.ClientByID(ctx, "app"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("client after delete: %v", err)
	}
	if x, _ := s.SessionByID(ctx, sess.ID); !x.Revoked() || x.RevokeReason != "client_deleted" {
		t.Fatalf("family session: %+v", x)
	}
	if x, _ := s.SessionByID(ctx, other.ID); x.Revoked() {
		t.Fatal("another client's session revoked")
	}
	if _, err := s.RefreshTokenByHash(ctx, rt.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refresh token after delete: %v", err)
	}
	if _, err := s.RefreshTokenByHash(ctx, keepRT.Hash); err != nil {
		t.Fatalf("another client's refresh token: %v", err)
	}
	if _, err := s.AccessTokenByHash(ctx, acc.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("access token after delete: %v", err)
	}
	feed, err := s.Revocations(ctx, before, 10)
	if err != nil || len(feed) != 2 {
		t.Fatalf("feed: %+v, %v", feed, err)
	}
	var sawJTI bool
	for _, r := range feed {
		sawJTI = sawJTI || r.JTI == "jti-app" && r.ExpiresAt.Equal(acc.ExpiresAt)
	}
	if !sawJTI {
		t.Fatalf("no denial on the feed: %+v", feed)
	}
	if _, err := s.DeleteClient(ctx, "app", at, "client_deleted"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}
