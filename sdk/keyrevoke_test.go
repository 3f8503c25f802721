package sdk

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestKeyRevocationFromFeed (issue 10, M2a): when Tessera revokes a
// signing key, a Verifier following the revocation feed refuses every
// token that key signed as soon as its follower reads the entry — even a
// token it verified and cached a moment before, and although its cached
// JWKS still holds the key — while tokens of the new active key verify.
func TestKeyRevocationFromFeed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := e.revocations(nil)
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	v := e.verifier(func(c *VerifierConfig) { c.Revocations = r })
	old := e.loginTokens(0)
	if _, err := v.Verify(ctx, old.Access); err != nil {
		t.Fatal(err)
	}
	signer, err := e.f.Keys.Active()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.f.Keys.Revoke(ctx, signer.KID); err != nil {
		t.Fatal(err)
	}
	if r.KeyRevoked(signer.KID) {
		t.Fatal("test premise: the follower has not read the feed yet")
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !r.KeyRevoked(signer.KID) {
		t.Fatal("the follower did not record the key revocation")
	}
	if _, err := v.Verify(ctx, old.Access); !errors.Is(err, ErrRevoked) {
		t.Fatalf("a token of the revoked key: %v, want ErrRevoked", err)
	}
	// A JWKS fetched from a stale cache would still list the key: the
	// feed's word wins.
	if _, err := v.lookup(signer.KID); !errors.Is(err, ErrRevoked) {
		t.Fatalf("lookup of the revoked kid: %v", err)
	}
	e.clock.Add(30 * time.Second) // unknown-kid refetches are spaced
	fresh := e.loginTokens(1)
	if _, err := v.Verify(ctx, fresh.Access); err != nil {
		t.Fatalf("a token of the new active key: %v", err)
	}
	if _, err := v.Verify(ctx, old.Access); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after a refetch, the revoked key's token: %v", err)
	}
}
