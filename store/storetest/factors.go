package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

func codeHash(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func codes(at time.Time, texts ...string) []store.RecoveryCode {
	var out []store.RecoveryCode
	for _, s := range texts {
		out = append(out, store.RecoveryCode{Hash: codeHash(s), CreatedAt: at})
	}
	return out
}

// confirmedTOTP gives u a confirmed TOTP whose last step is step.
func confirmedTOTP(t *testing.T, s store.Store, userID string, step int64) {
	t.Helper()
	ctx := context.Background()
	if err := s.PutPendingTOTP(ctx, store.TOTP{UserID: userID, SealedSecret: "sealed-1", CreatedAt: base}); err != nil {
		t.Fatalf("PutPendingTOTP: %v", err)
	}
	if err := s.ConfirmTOTP(ctx, userID, "sealed-1", step, base, codes(base, "a", "b")); err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
}

func testTOTP(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "totp")
	if _, err := s.TOTPByUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TOTPByUser before enrollment: %v, want ErrNotFound", err)
	}
	// A pending enrollment is replaced by a newer one.
	for _, sealed := range []string{"sealed-0", "sealed-1"} {
		if err := s.PutPendingTOTP(ctx, store.TOTP{UserID: u.ID, SealedSecret: sealed, CreatedAt: base}); err != nil {
			t.Fatalf("PutPendingTOTP %s: %v", sealed, err)
		}
	}
	got, err := s.TOTPByUser(ctx, u.ID)
	if err != nil || got.SealedSecret != "sealed-1" || !got.ConfirmedAt.IsZero() || !got.CreatedAt.Equal(base) {
		t.Fatalf("pending TOTP = %+v, %v", got, err)
	}
	// A pending TOTP has no step to advance.
	if err := s.AdvanceTOTPStep(ctx, u.ID, 5); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AdvanceTOTPStep on pending: %v, want ErrNotFound", err)
	}
	// Confirming a secret that was replaced meanwhile fails.
	if err := s.ConfirmTOTP(ctx, u.ID, "sealed-0", 10, base, nil); !errors.Is(err, store.ErrStale) {
		t.Fatalf("ConfirmTOTP of a replaced secret: %v, want ErrStale", err)
	}
	if err := s.ConfirmTOTP(ctx, u.ID, "sealed-1", 10, base.Add(time.Second), codes(base, "a", "b", "c")); err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	if err := s.ConfirmTOTP(ctx, u.ID, "sealed-1", 11, base, nil); !errors.Is(err, store.ErrStale) {
		t.Fatalf("second ConfirmTOTP: %v, want ErrStale", err)
	}
	got, err = s.TOTPByUser(ctx, u.ID)
	if err != nil || got.LastStep != 10 || !got.ConfirmedAt.Equal(base.Add(time.Second)) {
		t.Fatalf("confirmed TOTP = %+v, %v", got, err)
	}
	if n, err := s.CountRecoveryCodes(ctx, u.ID); err != nil || n != 3 {
		t.Fatalf("CountRecoveryCodes = %d, %v; want 3", n, err)
	}
	// A confirmed TOTP is never replaced by a new enrollment.
	if err := s.PutPendingTOTP(ctx, store.TOTP{UserID: u.ID, SealedSecret: "sealed-2", CreatedAt: base}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("PutPendingTOTP over a confirmed one: %v, want ErrConflict", err)
	}
	// The step only moves forward.
	for _, c := range []struct {
		step int64
		want error
	}{{10, store.ErrStale}, {9, store.ErrStale}, {11, nil}, {11, store.ErrStale}, {13, nil}, {12, store.ErrStale}} {
		if err := s.AdvanceTOTPStep(ctx, u.ID, c.step); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Fatalf("AdvanceTOTPStep(%d) = %v, want %v", c.step, err, c.want)
		}
	}
	if err := s.DeleteTOTP(ctx, u.ID); err != nil {
		t.Fatalf("DeleteTOTP: %v", err)
	}
	if err := s.DeleteTOTP(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteTOTP: %v, want ErrNotFound", err)
	}
	if err := s.AdvanceTOTPStep(ctx, u.ID, 20); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AdvanceTOTPStep after removal: %v, want ErrNotFound", err)
	}
}

func testRecoveryCodes(t *testing.T, s store.Store) {
	ctx := context.Background()
	u, other := newUser(t, s, "rc"), newUser(t, s, "rc-other")
	if err := s.ReplaceRecoveryCodes(ctx, u.ID, codes(base, "one", "two")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, other.ID, codes(base, "three")); err != nil {
		t.Fatal(err)
	}
	// Another user's code is no code of this user.
	if err := s.UseRecoveryCode(ctx, u.ID, codeHash("three"), base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("using another user's code: %v, want ErrNotFound", err)
	}
	if err := s.UseRecoveryCode(ctx, u.ID, codeHash("one"), base); err != nil {
		t.Fatalf("UseRecoveryCode: %v", err)
	}
	if err := s.UseRecoveryCode(ctx, u.ID, codeHash("one"), base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second use: %v, want ErrNotFound", err)
	}
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 1 {
		t.Fatalf("unused codes = %d, want 1", n)
	}
	// Regeneration replaces used and unused codes alike.
	if err := s.ReplaceRecoveryCodes(ctx, u.ID, codes(base, "four")); err != nil {
		t.Fatal(err)
	}
	if err := s.UseRecoveryCode(ctx, u.ID, codeHash("two"), base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a replaced code: %v, want ErrNotFound", err)
	}
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 1 {
		t.Fatalf("unused codes after regeneration = %d, want 1", n)
	}
	// An admin reset removes everything of the user, and only of the user.
	confirmedTOTP(t, s, u.ID, 1)
	if err := s.CreateMFAChallenge(ctx, newChallenge(t, u.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFactors(ctx, u.ID); err != nil {
		t.Fatalf("DeleteFactors: %v", err)
	}
	if _, err := s.TOTPByUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TOTP after DeleteFactors: %v", err)
	}
	if n, _ := s.CountRecoveryCodes(ctx, u.ID); n != 0 {
		t.Fatalf("codes after DeleteFactors = %d", n)
	}
	if n, _ := s.CountRecoveryCodes(ctx, other.ID); n != 1 {
		t.Fatalf("other user's codes after DeleteFactors = %d, want 1", n)
	}
}

// testRecoveryCodeRace presents one code many times at once: exactly one
// use succeeds.
func testRecoveryCodeRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "rc-race")
	if err := s.ReplaceRecoveryCodes(ctx, u.ID, codes(base, "once")); err != nil {
		t.Fatal(err)
	}
	const n = 8
	ok := concurrently(t, n, store.ErrNotFound, func(int) error {
		return s.UseRecoveryCode(ctx, u.ID, codeHash("once"), base)
	})
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one code succeeded, want exactly 1", ok, n)
	}
}

// testTOTPStepRace accepts one step many times at once: exactly one wins.
func testTOTPStepRace(t *testing.T, s store.Store) {
	u := newUser(t, s, "totp-race")
	confirmedTOTP(t, s, u.ID, 100)
	stepRace(t, []store.Store{s}, u.ID)
}

// TOTPReplayAcrossHandles checks the replay rule across nodes: a and b
// are two handles (two pools, as two nodes would hold) on one database.
// A step one handle accepted is refused by the other, and of concurrent
// acceptances of one step on both exactly one wins.
func TOTPReplayAcrossHandles(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	u := newUser(t, a, "totp-nodes")
	confirmedTOTP(t, a, u.ID, 100)
	if err := a.AdvanceTOTPStep(ctx, u.ID, 101); err != nil {
		t.Fatalf("node a accepts step 101: %v", err)
	}
	if err := b.AdvanceTOTPStep(ctx, u.ID, 101); !errors.Is(err, store.ErrStale) {
		t.Fatalf("node b accepts the replayed step 101: %v, want ErrStale", err)
	}
	stepRace(t, []store.Store{a, b}, u.ID)
}

func stepRace(t *testing.T, nodes []store.Store, userID string) {
	t.Helper()
	ctx := context.Background()
	cur, err := nodes[0].TOTPByUser(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	step := cur.LastStep + 1
	const n = 8
	ok := concurrently(t, n, store.ErrStale, func(i int) error {
		return nodes[i%len(nodes)].AdvanceTOTPStep(ctx, userID, step)
	})
	if ok != 1 {
		t.Fatalf("%d of %d concurrent acceptances of step %d succeeded, want exactly 1", ok, n, step)
	}
}

func newChallenge(t *testing.T, userID string) store.MFAChallenge {
	t.Helper()
	return store.MFAChallenge{Hash: NewHash(t), UserID: userID, Delivery: "token", ClientID: "spa", AMR: []string{"pwd"},
		CreatedAt: base, ExpiresAt: base.Add(5 * time.Minute)}
}

func testMFAChallenge(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "mfa-ch")
	c := newChallenge(t, u.ID)
	if err := s.CreateMFAChallenge(ctx, c); err != nil {
		t.Fatalf("CreateMFAChallenge: %v", err)
	}
	if err := s.CreateMFAChallenge(ctx, c); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate CreateMFAChallenge: %v, want ErrConflict", err)
	}
	if _, err := s.AttemptMFAChallenge(ctx, NewHash(t), 5, base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown challenge: %v, want ErrNotFound", err)
	}
	if _, err := s.MFAChallengeByHash(ctx, NewHash(t)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MFAChallengeByHash unknown: %v, want ErrNotFound", err)
	}
	if got, err := s.MFAChallengeByHash(ctx, c.Hash); err != nil || got.Attempts != 0 || got.UserID != u.ID || got.ClientID != "spa" {
		t.Fatalf("MFAChallengeByHash = %+v, %v", got, err)
	}
	got, err := s.AttemptMFAChallenge(ctx, c.Hash, 3, base.Add(time.Minute))
	if err != nil || got.Attempts != 1 || got.UserID != u.ID || got.Delivery != "token" || got.ClientID != "spa" ||
		len(got.AMR) != 1 || got.AMR[0] != "pwd" || !got.ExpiresAt.Equal(c.ExpiresAt) || !got.UsedAt.IsZero() {
		t.Fatalf("first attempt = %+v, %v", got, err)
	}
	for want := 2; want <= 3; want++ {
		if got, err = s.AttemptMFAChallenge(ctx, c.Hash, 3, base); err != nil || got.Attempts != want {
			t.Fatalf("attempt %d = %d, %v", want, got.Attempts, err)
		}
	}
	// The budget is spent: nothing counts, the challenge is stale.
	if got, err = s.AttemptMFAChallenge(ctx, c.Hash, 3, base); !errors.Is(err, store.ErrStale) || got.Attempts != 3 {
		t.Fatalf("attempt past the budget = %d, %v; want 3, ErrStale", got.Attempts, err)
	}
	// An expired challenge takes no attempt.
	e := newChallenge(t, u.ID)
	if err := s.CreateMFAChallenge(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, err = s.AttemptMFAChallenge(ctx, e.Hash, 5, e.ExpiresAt); !errors.Is(err, store.ErrStale) || got.Attempts != 0 {
		t.Fatalf("attempt at expiry = %d, %v; want 0, ErrStale", got.Attempts, err)
	}
	// Consumed once; then no attempt and no second consumption.
	k := newChallenge(t, u.ID)
	if err := s.CreateMFAChallenge(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeMFAChallenge(ctx, k.Hash, base.Add(time.Second)); err != nil {
		t.Fatalf("ConsumeMFAChallenge: %v", err)
	}
	if err := s.ConsumeMFAChallenge(ctx, k.Hash, base); !errors.Is(err, store.ErrStale) {
		t.Fatalf("second ConsumeMFAChallenge: %v, want ErrStale", err)
	}
	if got, err = s.AttemptMFAChallenge(ctx, k.Hash, 5, base); !errors.Is(err, store.ErrStale) || !got.UsedAt.Equal(base.Add(time.Second)) {
		t.Fatalf("attempt on a used challenge = %+v, %v", got, err)
	}
	if err := s.ConsumeMFAChallenge(ctx, NewHash(t), base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ConsumeMFAChallenge unknown: %v, want ErrNotFound", err)
	}
	// Expired challenges are deleted.
	if n, err := s.DeleteExpiredMFAChallenges(ctx, base.Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("DeleteExpiredMFAChallenges = %d, %v; want 3", n, err)
	}
	if _, err := s.AttemptMFAChallenge(ctx, c.Hash, 5, base); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted challenge: %v, want ErrNotFound", err)
	}
}

// testMFAChallengeRace: concurrent attempts never count past the budget,
// and of concurrent completions exactly one wins.
func testMFAChallengeRace(t *testing.T, s store.Store) {
	ctx := context.Background()
	u := newUser(t, s, "mfa-race")
	c := newChallenge(t, u.ID)
	if err := s.CreateMFAChallenge(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n, budget = 12, 5
	taken := concurrently(t, n, store.ErrStale, func(int) error {
		_, err := s.AttemptMFAChallenge(ctx, c.Hash, budget, base)
		return err
	})
	if taken != budget {
		t.Fatalf("%d concurrent attempts counted, want exactly %d", taken, budget)
	}
	d := newChallenge(t, u.ID)
	if err := s.CreateMFAChallenge(ctx, d); err != nil {
		t.Fatal(err)
	}
	wins := concurrently(t, n, store.ErrStale, func(int) error {
		return s.ConsumeMFAChallenge(ctx, d.Hash, base)
	})
	if wins != 1 {
		t.Fatalf("%d concurrent completions of one challenge succeeded, want 1", wins)
	}
}
