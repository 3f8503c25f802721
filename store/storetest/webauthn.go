package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

func webauthnCred(userID string, id string, count uint32) store.WebAuthnCredential {
	return store.WebAuthnCredential{
		ID: []byte(id), UserID: userID, Name: "key " + id, PublicKey: []byte("cose-" + id), SignCount: count,
		Transports: []string{"usb", "nfc"}, AAGUID: make([]byte, 16), AttestationFormat: "packed",
		BackupEligible: false, BackupState: false, UserVerified: true, CreatedAt: base,
	}
}

func testWebAuthnCredentials(t *testing.T, s store.Store) {
	ctx := context.Background()
	u, other := newUser(t, s, "wa"), newUser(t, s, "wa-other")
	if l, err := s.WebAuthnCredentialsByUser(ctx, u.ID); err != nil || len(l) != 0 {
		t.Fatalf("credentials before registration: %v, %v", l, err)
	}
	a := webauthnCred(u.ID, "cred-a", 5)
	b := webauthnCred(u.ID, "cred-b", 0)
	b.Transports, b.BackupEligible, b.BackupState, b.CreatedAt = nil, true, true, base.Add(time.Second)
	for _, c := range []store.WebAuthnCredential{a, b} {
		if err := s.CreateWebAuthnCredential(ctx, c); err != nil {
			t.Fatalf("CreateWebAuthnCredential: %v", err)
		}
	}
	// A credential id is unique across users.
	if err := s.CreateWebAuthnCredential(ctx, webauthnCred(other.ID, "cred-a", 0)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate credential id: %v, want ErrConflict", err)
	}
	l, err := s.WebAuthnCredentialsByUser(ctx, u.ID)
	if err != nil || len(l) != 2 || !reflect.DeepEqual(l[0], a) || !reflect.DeepEqual(l[1], b) {
		t.Fatalf("credentials = %+v, %v\nwant %+v\n     %+v", l, err, a, b)
	}
	if n, err := s.CountWebAuthnCredentials(ctx, u.ID); err != nil || n != 2 {
		t.Fatalf("CountWebAuthnCredentials = %d, %v", n, err)
	}
	if got, err := s.WebAuthnCredentialByID(ctx, []byte("cred-b")); err != nil || !reflect.DeepEqual(got, b) {
		t.Fatalf("WebAuthnCredentialByID = %+v, %v", got, err)
	}
	if _, err := s.WebAuthnCredentialByID(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown credential: %v", err)
	}

	// The counter only moves forward; 0 → 0 is an authenticator without one.
	used := base.Add(time.Minute)
	for _, c := range []struct {
		id    string
		count uint32
		want  error
	}{
		{"cred-a", 5, store.ErrStale}, {"cred-a", 4, store.ErrStale}, {"cred-a", 6, nil}, {"cred-a", 6, store.ErrStale},
		{"cred-a", 1 << 31, nil}, {"cred-b", 0, nil}, {"cred-b", 0, nil}, {"cred-b", 3, nil}, {"cred-b", 0, store.ErrStale},
		{"nope", 9, store.ErrNotFound},
	} {
		if err := s.AdvanceWebAuthnCounter(ctx, []byte(c.id), c.count, true, used); !errors.Is(err, c.want) || c.want == nil && err != nil {
			t.Fatalf("AdvanceWebAuthnCounter(%s, %d) = %v, want %v", c.id, c.count, err, c.want)
		}
	}
	got, _ := s.WebAuthnCredentialByID(ctx, []byte("cred-a"))
	if got.SignCount != 1<<31 || !got.LastUsedAt.Equal(used) || !got.BackupState || got.CloneWarning {
		t.Fatalf("after uses: %+v", got)
	}
	// A flagged use keeps the count and marks the credential.
	if err := s.FlagWebAuthnClone(ctx, []byte("cred-a"), false, used.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.WebAuthnCredentialByID(ctx, []byte("cred-a"))
	if got.SignCount != 1<<31 || !got.CloneWarning || got.BackupState || !got.LastUsedAt.Equal(used.Add(time.Second)) {
		t.Fatalf("after a flagged use: %+v", got)
	}
	if err := s.FlagWebAuthnClone(ctx, []byte("nope"), false, used); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FlagWebAuthnClone unknown: %v", err)
	}

	// Only the owner deletes.
	if err := s.DeleteWebAuthnCredential(ctx, other.ID, []byte("cred-a")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting another user's credential: %v", err)
	}
	if err := s.DeleteWebAuthnCredential(ctx, u.ID, []byte("cred-a")); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountWebAuthnCredentials(ctx, u.ID); n != 1 {
		t.Fatalf("%d credentials after delete", n)
	}
	// An admin reset removes them all.
	if err := s.DeleteFactors(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountWebAuthnCredentials(ctx, u.ID); n != 0 {
		t.Fatalf("%d credentials after DeleteFactors", n)
	}
}

func testWebAuthnCounterRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "wa-race")
	if err := s.CreateWebAuthnCredential(ctx, webauthnCred(u.ID, "race", 1)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	ok := concurrently(t, n, store.ErrStale, func(int) error {
		return s.AdvanceWebAuthnCounter(ctx, []byte("race"), 2, false, base)
	})
	if ok != 1 {
		t.Fatalf("%d of %d uses of one counter value succeeded, want 1", ok, n)
	}
}

func testWebAuthnCeremony(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "wa-cer")
	c := store.WebAuthnCeremony{
		Hash: sha256.Sum256([]byte("challenge-1")), Kind: "login", UserID: u.ID, MFAHash: sha256.Sum256([]byte("tsm_x")),
		Name: "", State: []byte(`{"challenge":"x"}`), CreatedAt: base, ExpiresAt: base.Add(5 * time.Minute),
	}
	if err := s.CreateWebAuthnCeremony(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateWebAuthnCeremony(ctx, c); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate ceremony: %v", err)
	}
	got, err := s.TakeWebAuthnCeremony(ctx, c.Hash)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("TakeWebAuthnCeremony = %+v, %v; want %+v", got, err, c)
	}
	// Single use.
	if _, err := s.TakeWebAuthnCeremony(ctx, c.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second take: %v", err)
	}
	// Concurrent takes: one wins.
	c.Hash = sha256.Sum256([]byte("challenge-2"))
	c.Kind, c.UserID, c.MFAHash = "passwordless", "", [32]byte{}
	if err := s.CreateWebAuthnCeremony(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n = 8
	ok := concurrently(t, n, store.ErrNotFound, func(int) error {
		_, err := s.TakeWebAuthnCeremony(ctx, c.Hash)
		return err
	})
	if ok != 1 {
		t.Fatalf("%d of %d takes of one ceremony succeeded", ok, n)
	}
	// Expired ones are swept.
	for i, exp := range []time.Duration{time.Minute, time.Hour} {
		c.Hash = sha256.Sum256([]byte{byte(i)})
		c.ExpiresAt = base.Add(exp)
		if err := s.CreateWebAuthnCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if k, err := s.DeleteExpiredWebAuthnCeremonies(ctx, base.Add(30*time.Minute)); err != nil || k != 1 {
		t.Fatalf("DeleteExpiredWebAuthnCeremonies = %d, %v", k, err)
	}
}
