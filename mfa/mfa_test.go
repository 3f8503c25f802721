package mfa_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

var ip = netip.MustParseAddr("192.0.2.7")

type fixture struct {
	st     *sqlite.Store
	clock  *clocktest.Clock
	master keys.MasterKey
	svc    *mfa.Service
	user   store.User
}

func newFixture(t *testing.T, l mfa.Limits) *fixture {
	t.Helper()
	f := sqlitetest.NewFixture(t)
	m, _, err := keys.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{st: f.Store, clock: f.Clock, master: m, user: f.User,
		svc: mfa.New(f.Store, m, mfa.Config{Now: f.Clock.Now, Limits: l})}
}

// code is what the user's authenticator app shows at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enroll enrolls and confirms TOTP for f.user and returns the secret and
// the recovery codes; the confirming code's step is then used.
func (f *fixture) enroll(t *testing.T) (string, []string) {
	t.Helper()
	ctx := context.Background()
	e, err := f.svc.BeginTOTP(ctx, f.user.ID, f.user.Username)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.svc.ConfirmTOTP(ctx, f.user.ID, code(t, e.Secret, f.clock.Now()), ip)
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	return e.Secret, codes
}

func TestEnrollment(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mfa.Limits{})
	if m, err := f.svc.Methods(ctx, f.user.ID); err != nil || len(m) != 0 {
		t.Fatalf("Methods before enrollment = %v, %v", m, err)
	}
	e, err := f.svc.BeginTOTP(ctx, f.user.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.URI, "otpauth://totp/Tessera:alice?") || !strings.Contains(e.URI, "secret="+e.Secret) {
		t.Fatalf("URI = %q", e.URI)
	}
	if _, err := png.Decode(bytes.NewReader(e.QRPNG)); err != nil {
		t.Fatalf("QR code is no PNG: %v", err)
	}
	// The secret is sealed at rest, under the master key, for this user.
	rec, err := f.st.TOTPByUser(ctx, f.user.ID)
	if err != nil || strings.Contains(rec.SealedSecret, e.Secret) || strings.Count(rec.SealedSecret, ".") != 4 {
		t.Fatalf("stored TOTP = %+v, %v: want a sealed secret", rec, err)
	}
	if got, err := f.master.Open("totp-secret/v1", f.user.ID, rec.SealedSecret); err != nil || string(got) != e.Secret {
		t.Fatalf("opening the sealed secret: %q, %v", got, err)
	}
	// Pending: no factor yet, and login would not ask for it.
	if m, _ := f.svc.Methods(ctx, f.user.ID); len(m) != 0 {
		t.Fatalf("Methods while pending = %v", m)
	}
	if _, err := f.svc.Verify(ctx, f.user.ID, mfa.TOTP, code(t, e.Secret, f.clock.Now()), ip); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("Verify while pending: %v, want ErrNotEnrolled", err)
	}
	if _, err := f.svc.ConfirmTOTP(ctx, f.user.ID, "000000", ip); !errors.Is(err, mfa.ErrInvalidCode) && code(t, e.Secret, f.clock.Now()) != "000000" {
		t.Fatalf("ConfirmTOTP with a wrong code: %v", err)
	}
	codes, err := f.svc.ConfirmTOTP(ctx, f.user.ID, code(t, e.Secret, f.clock.Now()), ip)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 23 || seen[c] {
			t.Fatalf("recovery code %q: want 4 groups of 5, all distinct", c)
		}
		seen[c] = true
	}
	st, err := f.svc.Status(ctx, f.user.ID)
	if err != nil || !st.TOTP || st.RecoveryCodesLeft != 10 || !slices.Equal(st.Methods, []mfa.Method{mfa.TOTP, mfa.RecoveryCode}) {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	// The confirming code cannot be used again (replay).
	if _, err := f.svc.Verify(ctx, f.user.ID, mfa.TOTP, code(t, e.Secret, f.clock.Now()), ip); !errors.Is(err, mfa.ErrReplay) {
		t.Fatalf("Verify with the confirming code: %v, want ErrReplay", err)
	}
	// A second enrollment needs the first removed.
	if _, err := f.svc.BeginTOTP(ctx, f.user.ID, "alice"); !errors.Is(err, mfa.ErrAlreadyEnrolled) {
		t.Fatalf("BeginTOTP over a confirmed TOTP: %v, want ErrAlreadyEnrolled", err)
	}
}

func TestTOTPVerify(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mfa.Limits{})
	secret, _ := f.enroll(t)
	f.clock.Add(10 * time.Minute)
	now := f.clock.Now()
	verify := func(at time.Time) error {
		_, err := f.svc.Verify(ctx, f.user.ID, mfa.TOTP, code(t, secret, at), ip)
		return err
	}
	// One step behind (a slow typist, a slow clock): accepted.
	if err := verify(now.Add(-30 * time.Second)); err != nil {
		t.Fatalf("code of the previous step: %v", err)
	}
	// The same code again: a replay.
	if err := verify(now.Add(-30 * time.Second)); !errors.Is(err, mfa.ErrReplay) {
		t.Fatalf("replayed code: %v, want ErrReplay", err)
	}
	// One step ahead: accepted, and then the current step is behind it.
	if err := verify(now.Add(30 * time.Second)); err != nil {
		t.Fatalf("code of the next step: %v", err)
	}
	if err := verify(now); !errors.Is(err, mfa.ErrReplay) {
		t.Fatalf("code older than the last accepted: %v, want ErrReplay", err)
	}
	// Two steps away: outside the skew.
	f.clock.Add(5 * time.Minute)
	now = f.clock.Now()
	for _, at := range []time.Time{now.Add(-61 * time.Second), now.Add(61 * time.Second)} {
		if c := code(t, secret, at); c != code(t, secret, now) && c != code(t, secret, now.Add(-30*time.Second)) && c != code(t, secret, now.Add(30*time.Second)) {
			if err := verify(at); !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("code two steps away: %v, want ErrInvalidCode", err)
			}
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef", " 12 34 "} {
		if _, err := f.svc.Verify(ctx, f.user.ID, mfa.TOTP, bad, ip); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("Verify(%q): %v, want ErrInvalidCode", bad, err)
		}
	}
	if err := verify(now); err != nil {
		t.Fatalf("current code: %v", err)
	}
	// Removed: the next code is refused.
	last, err := f.svc.RemoveTOTP(ctx, f.user.ID)
	if err != nil || !last {
		t.Fatalf("RemoveTOTP = %v, %v; want last", last, err)
	}
	f.clock.Add(time.Minute)
	if err := verify(f.clock.Now()); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("code after removal: %v, want ErrNotEnrolled", err)
	}
	if n, _ := f.st.CountRecoveryCodes(ctx, f.user.ID); n != 0 {
		t.Fatalf("%d recovery codes left after the last factor went", n)
	}
}

// TestTOTPReplayAcrossNodes: two services, each on its own handle of one
// database (two nodes): a code one accepted, the other refuses, and of
// both presenting the same fresh code at once exactly one accepts.
func TestTOTPReplayAcrossNodes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	a, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.OpenExisting(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	clock := clocktest.New(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	user := sqlitetest.NewUser(t, a, clock.Now())
	m, _, _ := keys.NewMasterKey()
	na := mfa.New(a, m, mfa.Config{Now: clock.Now})
	nb := mfa.New(b, m, mfa.Config{Now: clock.Now})
	e, err := na.BeginTOTP(ctx, user.ID, user.Username)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nb.ConfirmTOTP(ctx, user.ID, code(t, e.Secret, clock.Now()), ip); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Minute)
	c := code(t, e.Secret, clock.Now())
	if _, err := na.Verify(ctx, user.ID, mfa.TOTP, c, ip); err != nil {
		t.Fatalf("node a: %v", err)
	}
	if _, err := nb.Verify(ctx, user.ID, mfa.TOTP, c, ip); !errors.Is(err, mfa.ErrReplay) {
		t.Fatalf("node b replaying node a's code: %v, want ErrReplay", err)
	}
	clock.Add(time.Minute)
	c = code(t, e.Secret, clock.Now())
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		node := na
		if i%2 == 1 {
			node = nb
		}
		wg.Go(func() { _, errs[i] = node.Verify(ctx, user.ID, mfa.TOTP, c, ip) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, mfa.ErrReplay) {
			t.Errorf("Verify: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent presentations of one code on two nodes succeeded, want 1", ok, len(errs))
	}
}

func TestRecoveryCodes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mfa.Limits{})
	_, codes := f.enroll(t)
	// As shown, and as typed in lower case without dashes.
	if p, err := f.svc.Verify(ctx, f.user.ID, mfa.RecoveryCode, codes[0], ip); err != nil || !slices.Equal(p.AMR, []string{"otp"}) {
		t.Fatalf("first use = %+v, %v", p, err)
	}
	if _, err := f.svc.Verify(ctx, f.user.ID, mfa.RecoveryCode, codes[0], ip); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("second use: %v, want ErrInvalidCode", err)
	}
	typed := strings.ToLower(strings.ReplaceAll(codes[1], "-", ""))
	if _, err := f.svc.Verify(ctx, f.user.ID, mfa.RecoveryCode, typed, ip); err != nil {
		t.Fatalf("code typed in lower case without dashes: %v", err)
	}
	// Presented twice at once: one success.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = f.svc.Verify(ctx, f.user.ID, mfa.RecoveryCode, codes[2], ip) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("Verify: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent uses of one recovery code succeeded, want 1", ok)
	}
	if st, _ := f.svc.Status(ctx, f.user.ID); st.RecoveryCodesLeft != 7 {
		t.Fatalf("%d codes left, want 7", st.RecoveryCodesLeft)
	}
	// Regenerated: the old codes are gone, the new ones work.
	fresh, err := f.svc.RegenerateRecoveryCodes(ctx, f.user.ID)
	if err != nil || len(fresh) != 10 {
		t.Fatalf("RegenerateRecoveryCodes = %d codes, %v", len(fresh), err)
	}
	if _, err := f.svc.Verify(ctx, f.user.ID, mfa.RecoveryCode, codes[3], ip); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("old code after regeneration: %v, want ErrInvalidCode", err)
	}
	if _, err := f.svc.Verify(ctx, f.user.ID, mfa.RecoveryCode, fresh[0], ip); err != nil {
		t.Fatalf("new code: %v", err)
	}
	if _, err := f.svc.Verify(ctx, f.user.ID, mfa.RecoveryCode, "not-a-code", ip); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("garbage: %v", err)
	}
	// An admin reset removes everything.
	if err := f.svc.Reset(ctx, f.user.ID); err != nil {
		t.Fatal(err)
	}
	if m, _ := f.svc.Methods(ctx, f.user.ID); len(m) != 0 {
		t.Fatalf("Methods after reset = %v", m)
	}
	if _, err := f.svc.RegenerateRecoveryCodes(ctx, f.user.ID); !errors.Is(err, mfa.ErrNotEnrolled) {
		t.Fatalf("RegenerateRecoveryCodes without a factor: %v, want ErrNotEnrolled", err)
	}
}

func TestThrottle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, mfa.Limits{PerUserBurst: 3, PerUserRefill: time.Minute, PerIPBurst: 100, PerIPRefill: time.Second})
	secret, _ := f.enroll(t)
	f.clock.Add(time.Minute)
	// Successes cost nothing.
	for range 5 {
		f.clock.Add(30 * time.Second)
		if _, err := f.svc.Verify(ctx, f.user.ID, mfa.TOTP, code(t, secret, f.clock.Now()), ip); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		f.svc.Verify(ctx, f.user.ID, mfa.RecoveryCode, "AAAAA-AAAAA-AAAAA-AAAAA", ip)
	}
	f.clock.Add(30 * time.Second)
	var te *mfa.ThrottledError
	if _, err := f.svc.Verify(ctx, f.user.ID, mfa.TOTP, code(t, secret, f.clock.Now()), netip.MustParseAddr("198.51.100.1")); !errors.As(err, &te) || te.RetryAfter <= 0 {
		t.Fatalf("right code after 3 failures, from another address: %v, want throttled per user", err)
	}
	f.clock.Add(time.Minute)
	if _, err := f.svc.Verify(ctx, f.user.ID, mfa.TOTP, code(t, secret, f.clock.Now()), ip); err != nil {
		t.Fatalf("after a refill: %v", err)
	}
}

func TestAssess(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want []string
		aal  int
	}{
		{[]string{"pwd"}, []string{"pwd"}, 1},
		{[]string{"pwd", "pwd"}, []string{"pwd"}, 1},
		{[]string{"pwd", "otp"}, []string{"pwd", "otp", "mfa"}, 2},
		{[]string{"pwd", "mfa", "otp"}, []string{"pwd", "otp", "mfa"}, 2},
		{[]string{"otp"}, []string{"otp"}, 1},
		{[]string{"mfa"}, []string{}, 1},
		{[]string{"pwd", "swk"}, []string{"pwd", "swk", "mfa"}, 2},
		{[]string{"swk", "user"}, []string{"swk", "user", "mfa"}, 2},
		{[]string{"hwk", "user"}, []string{"hwk", "user", "mfa"}, 3},
		{[]string{"pwd", "hwk"}, []string{"pwd", "hwk", "mfa"}, 3},
		{[]string{"hwk"}, []string{"hwk"}, 1},
		{[]string{"pwd", "user"}, []string{"pwd", "user"}, 1},
	} {
		got, aal := mfa.Assess(c.in)
		if !slices.Equal(got, c.want) || aal != c.aal {
			t.Errorf("Assess(%v) = %v, %d; want %v, %d", c.in, got, aal, c.want, c.aal)
		}
	}
	amr, aal := mfa.Merge([]string{"pwd"}, mfa.Proof{Method: mfa.TOTP, AMR: []string{"otp"}})
	if !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) || aal != 2 {
		t.Errorf("Merge = %v, %d", amr, aal)
	}
	if mfa.ACR(2) != "aal2" || mfa.AALOfACR("aal3") != 3 || mfa.AALOfACR("x") != 0 || mfa.ACR(0) != "" {
		t.Error("ACR mapping")
	}
}
