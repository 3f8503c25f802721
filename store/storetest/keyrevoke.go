package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// testRevokeSigningKey: a revoked key is retired with RevokedAt, its feed
// entry names the kid with its expiry, a revoked next key is replaced in
// the same transaction, the active key cannot be revoked, and revoking
// twice changes nothing.
func testRevokeSigningKey(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := s.InitSigningKeys(ctx, newKey("k1", store.KeyActive, base), newKey("k2", store.KeyNext, base)); err != nil {
		t.Fatal(err)
	}
	at, until := base.Add(time.Hour), base.Add(3*time.Hour)
	if _, err := s.RevokeSigningKey(ctx, "nope", store.SigningKey{}, at, until, "compromised"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown kid: %v", err)
	}
	if _, err := s.RevokeSigningKey(ctx, "k1", store.SigningKey{}, at, until, "compromised"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("active key revoked: %v", err)
	}
	if _, err := s.RevokeSigningKey(ctx, "k2", store.SigningKey{}, at, until, "compromised"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("next key revoked without a replacement: %v", err)
	}
	if feed, _ := s.Revocations(ctx, 0, 10); len(feed) != 0 {
		t.Fatalf("refused revocations wrote the feed: %+v", feed)
	}
	was, err := s.RevokeSigningKey(ctx, "k2", newKey("k3", store.KeyNext, at), at, until, "compromised")
	if err != nil || was.State != store.KeyNext {
		t.Fatalf("revoke next: %+v %v", was, err)
	}
	if got := keyStates(t, s); got["k1"] != store.KeyActive || got["k2"] != store.KeyRetired || got["k3"] != store.KeyNext {
		t.Fatalf("states after revoking next: %v", got)
	}
	if err := s.RotateSigningKeys(ctx, "k1", newKey("k4", store.KeyNext, at), at); err != nil {
		t.Fatal(err)
	}
	if got := keyStates(t, s); got["k3"] != store.KeyActive || got["k2"] != store.KeyRetired {
		t.Fatalf("the revoked key came back: %v", got)
	}
	at2 := at.Add(time.Minute)
	if _, err := s.RevokeSigningKey(ctx, "k1", store.SigningKey{}, at2, until, "compromised"); err != nil {
		t.Fatalf("revoke retired: %v", err)
	}
	if _, err := s.RevokeSigningKey(ctx, "k1", store.SigningKey{}, at2.Add(time.Minute), until, "again"); err != nil {
		t.Fatalf("revoke twice: %v", err)
	}
	ks, _ := s.ListSigningKeys(ctx)
	for _, k := range ks {
		revoked := k.ID == "k1" || k.ID == "k2"
		if revoked != !k.RevokedAt.IsZero() {
			t.Fatalf("key %s RevokedAt %v", k.ID, k.RevokedAt)
		}
		if k.ID == "k1" && (!k.RevokedAt.Equal(at2) || !k.RetiredAt.Equal(at)) {
			t.Fatalf("k1 revoked at %v retired at %v: the retirement time must stay", k.RevokedAt, k.RetiredAt)
		}
	}
	feed, err := s.Revocations(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 2 || feed[0].KID != "k2" || feed[1].KID != "k1" || feed[0].SessionID != "" || feed[0].JTI != "" ||
		!feed[0].ExpiresAt.Equal(until) || feed[0].Reason != "compromised" {
		t.Fatalf("feed: %+v", feed)
	}
	active, err := s.ActiveRevocations(ctx, base, until.Add(-time.Second))
	if err != nil || len(active) != 2 {
		t.Fatalf("active before until: %+v %v", active, err)
	}
	if active, _ := s.ActiveRevocations(ctx, base, until); len(active) != 0 {
		t.Fatalf("key revocations still active at their expiry: %+v", active)
	}
	if last, _ := s.LastRevocationSeq(ctx); last != feed[1].Seq {
		t.Fatalf("last seq %d, want %d", last, feed[1].Seq)
	}
}
