package authflow_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

// passkeys is a stand-in for the WebAuthn factor: enrolled for everyone.
type passkeys struct{}

func (passkeys) Method() mfa.Method                                        { return mfa.WebAuthn }
func (passkeys) Enrolled(ctx context.Context, userID string) (bool, error) { return true, nil }

// mfaFlows are f's flows with second factors: TOTP and recovery codes
// from mfa.Service, plus a WebAuthn factor plugged in the way the WebAuthn
// package plugs in (an mfa.Factor, and a Prove for CompleteWith).
func (f *fixture) mfaFlows(t *testing.T, p authflow.MFAPolicy) *authflow.Flows {
	t.Helper()
	mk, _, err := keys.NewMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return f.now }
	svc := mfa.New(f.st, mk, mfa.Config{Now: clock, Factors: []mfa.Factor{passkeys{}}})
	return authflow.New(f.an, f.sessions, f.st, f.oauth, authflow.Config{
		TokenIdle: tokenIdle, TokenAbsolute: tokenAbsol, Now: clock,
		Factors: svc, Challenges: f.st, MFA: p,
	})
}

func TestSecondFactorPlugsIn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	flows := f.mfaFlows(t, authflow.MFAPolicy{})
	res, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.spa.ID}, use)
	if err != nil || res.MFA == nil || res.Session.ID != "" {
		t.Fatalf("Login = %+v, %v; want a challenge and no session", res, err)
	}
	if !slices.Equal(res.MFA.Methods, []mfa.Method{mfa.WebAuthn}) || !res.MFA.ExpiresAt.Equal(f.now.Add(5*time.Minute)) {
		t.Fatalf("challenge = %+v", res.MFA)
	}
	raw := res.MFA.Token.Reveal()
	// The ceremony reads the challenge's user first, counting no attempt.
	c, err := flows.PendingChallenge(ctx, raw)
	if err != nil || c.UserID != f.user.ID || c.Attempts != 0 || c.ClientID != f.spa.ID {
		t.Fatalf("PendingChallenge = %+v, %v", c, err)
	}
	// A failed assertion counts an attempt and leaves the challenge live.
	bad := errors.New("assertion refused")
	req := authflow.SecondFactor{MFAToken: raw, Method: mfa.WebAuthn}
	if _, err := flows.CompleteWith(ctx, req, func(context.Context, string) (mfa.Proof, error) { return mfa.Proof{}, bad }, use); !errors.Is(err, bad) {
		t.Fatalf("CompleteWith a failing proof: %v", err)
	}
	if c, _ := flows.PendingChallenge(ctx, raw); c.Attempts != 1 {
		t.Fatalf("attempts after a failure = %d, want 1", c.Attempts)
	}
	var proved string
	res, err = flows.CompleteWith(ctx, req, func(_ context.Context, userID string) (mfa.Proof, error) {
		proved = userID
		return mfa.Proof{Method: mfa.WebAuthn, AMR: []string{mfa.AMRHardware}}, nil
	}, use)
	if err != nil || proved != f.user.ID {
		t.Fatalf("CompleteWith = %v (proved for %q)", err, proved)
	}
	// Password + hardware key: AAL3; delivered to the client of the password step.
	if res.Session.AAL != 3 || !slices.Equal(res.Session.AMR, []string{"pwd", "hwk", "mfa"}) || res.Delivery != authflow.Token || res.Tokens.RefreshToken == "" {
		t.Fatalf("session = %+v, delivery %v", res.Session, res.Delivery)
	}
	if _, err := flows.PendingChallenge(ctx, raw); !errors.Is(err, authflow.ErrChallenge) {
		t.Fatalf("PendingChallenge after completion: %v, want ErrChallenge", err)
	}
	// Passwordless: a discoverable credential with user verification.
	res, err = flows.LoginWithProof(ctx, authflow.ProofLogin{User: f.user, Proof: mfa.Proof{Method: mfa.WebAuthn, AMR: []string{"hwk", "user"}}, Delivery: authflow.Cookie}, use)
	if err != nil || res.Session.AAL != 3 || !slices.Equal(res.Session.AMR, []string{"hwk", "user", "mfa"}) || res.SessionToken.IsZero() {
		t.Fatalf("LoginWithProof = %+v, %v", res.Session, err)
	}
	// Step-up by a proof keeps the session's level and renews it.
	up, err := flows.StepUp(ctx, res.Session, mfa.Proof{Method: mfa.WebAuthn, AMR: []string{"swk"}}, authflow.Target{Delivery: authflow.Cookie}, use)
	if err != nil || up.Session.ID == res.Session.ID || up.Session.AAL != 3 {
		t.Fatalf("StepUp = %+v, %v", up.Session, err)
	}
	if _, err := f.sessions.Validate(ctx, res.SessionToken.Reveal(), session.Use{}); !errors.Is(err, session.ErrRevoked) {
		t.Fatalf("renewed session's old token: %v, want ErrRevoked", err)
	}
}

func TestChallengeDiesWithPasswordChange(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	flows := f.mfaFlows(t, authflow.MFAPolicy{})
	res, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if err != nil || res.MFA == nil {
		t.Fatal(res, err)
	}
	f.now = f.now.Add(time.Second)
	if err := f.an.SetPassword(ctx, f.user, "another long passphrase"); err != nil {
		t.Fatal(err)
	}
	_, err = flows.CompleteWith(ctx, authflow.SecondFactor{MFAToken: res.MFA.Token.Reveal(), Method: mfa.WebAuthn},
		func(context.Context, string) (mfa.Proof, error) {
			return mfa.Proof{Method: mfa.WebAuthn, AMR: []string{"hwk"}}, nil
		}, use)
	if !errors.Is(err, authflow.ErrChallenge) {
		t.Fatalf("completing a challenge whose password changed: %v, want ErrChallenge", err)
	}
}

func TestMethodsPolicy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	flows := f.mfaFlows(t, authflow.MFAPolicy{Methods: []mfa.Method{mfa.TOTP}})
	// The user's only factor is not allowed: no challenge, an AAL1 session.
	res, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if err != nil || res.MFA != nil || res.Session.AAL != 1 {
		t.Fatalf("Login = %+v, %v", res, err)
	}
	if _, err := flows.Reauth(ctx, res.Session, authflow.Reauth{Method: mfa.RecoveryCode, Code: "x"}, authflow.Target{Delivery: authflow.Cookie}, use); !errors.Is(err, authflow.ErrMethodNotAllowed) {
		t.Fatalf("Reauth by a method policy refuses: %v", err)
	}
	if err := flows.RequireRecent(ctx, res.Session); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	f.now = f.now.Add(10*time.Minute + time.Microsecond)
	var su *authflow.StepUpError
	if err := flows.RequireRecent(ctx, res.Session); !errors.As(err, &su) || su.MaxAge != 10*time.Minute {
		t.Fatalf("stale session: %v", err)
	}
}

// TestSecondFactorEvents: a challenge is MFAChallenged (no login yet); a
// refused mfa_token is MFAFailed; the completed login is LoginSucceeded
// once, naming the second factor's method and the new session.
func TestSecondFactorEvents(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	rec := &eventtest.Recorder{}
	mk, _, _ := keys.NewMasterKey()
	clock := func() time.Time { return f.now }
	svc := mfa.New(f.st, mk, mfa.Config{Now: clock, Factors: []mfa.Factor{passkeys{}}, Events: rec})
	flows := authflow.New(f.an, f.sessions, f.st, f.oauth, authflow.Config{Now: clock, Events: rec, Factors: svc, Challenges: f.st})
	res, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if err != nil || res.MFA == nil {
		t.Fatal(res, err)
	}
	if n := len(rec.Of(event.MFAChallenged)); n != 1 || len(rec.Of(event.LoginSucceeded)) != 0 {
		t.Fatalf("after the password step: %v", rec.Events())
	}
	prove := func(context.Context, string) (mfa.Proof, error) {
		return mfa.Proof{Method: mfa.WebAuthn, AMR: []string{"hwk"}}, nil
	}
	if _, err := flows.CompleteWith(ctx, authflow.SecondFactor{MFAToken: "tsm_bogus", Method: mfa.WebAuthn}, prove, use); !errors.Is(err, authflow.ErrChallenge) {
		t.Fatal(err)
	}
	if ev := rec.Of(event.MFAFailed); len(ev) != 1 || ev[0].Reason != event.ReasonChallenge {
		t.Fatalf("MFAFailed events: %v", ev)
	}
	done, err := flows.CompleteWith(ctx, authflow.SecondFactor{MFAToken: res.MFA.Token.Reveal(), Method: mfa.WebAuthn}, prove, use)
	if err != nil {
		t.Fatal(err)
	}
	ev := rec.Of(event.LoginSucceeded)
	if len(ev) != 1 || ev[0].Method != "webauthn" || ev[0].SessionID != done.Session.ID || ev[0].UserID != f.user.ID {
		t.Fatalf("LoginSucceeded events: %v", ev)
	}
}

// TestDisabledGetsNoSecondFactor: a disabled account is refused at the
// password step (no challenge), and a challenge issued before the disable
// cannot be completed into a session.
func TestDisabledGetsNoSecondFactor(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	flows := f.mfaFlows(t, authflow.MFAPolicy{})
	res, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if err != nil || res.MFA == nil {
		t.Fatal(res, err)
	}
	if _, _, err := f.st.UpdateUser(ctx, f.user.ID, store.UserUpdate{At: f.now, Disable: true}); err != nil {
		t.Fatal(err)
	}
	_, err = flows.CompleteWith(ctx, authflow.SecondFactor{MFAToken: res.MFA.Token.Reveal(), Method: mfa.WebAuthn},
		func(context.Context, string) (mfa.Proof, error) {
			return mfa.Proof{Method: mfa.WebAuthn, AMR: []string{"hwk"}}, nil
		}, use)
	if !errors.Is(err, authflow.ErrChallenge) {
		t.Fatalf("completing a challenge of a since-disabled user: %v, want ErrChallenge", err)
	}
	res, err = flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if !errors.Is(err, authn.ErrAccountDisabled) || res.MFA != nil {
		t.Fatalf("Login of a disabled user = %+v, %v; want ErrAccountDisabled and no challenge", res.MFA, err)
	}
}

// Every path that delivers a login's tokens to a named client asks
// whether the client is first party (RFC 9700 §2.4), not only the
// password step: a second factor completing a challenge for a client
// that lost the mark, and a step-up renewal whose tokens would go to a
// third-party client.
func TestThirdPartyClientGetsNoLoginTokens(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	flows := f.mfaFlows(t, authflow.MFAPolicy{})
	res, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Token, ClientID: f.spa.ID}, use)
	if err != nil || res.MFA == nil {
		t.Fatalf("Login = %+v, %v; want a challenge", res, err)
	}
	no := false
	if _, err := f.oauth.UpdateClient(ctx, f.spa.ID, oauth.ClientPatch{FirstParty: &no}); err != nil {
		t.Fatal(err)
	}
	req := authflow.SecondFactor{MFAToken: res.MFA.Token.Reveal(), Method: mfa.WebAuthn}
	prove := func(context.Context, string) (mfa.Proof, error) {
		return mfa.Proof{Method: mfa.WebAuthn, AMR: []string{mfa.AMRHardware}}, nil
	}
	if res, err := flows.CompleteWith(ctx, req, prove, use); !errors.Is(err, authflow.ErrUnauthorizedClient) || res.Tokens.AccessToken != "" {
		t.Fatalf("CompleteWith for a third-party client = %+v, %v", res, err)
	}
	if res, err := flows.LoginWithProof(ctx, authflow.ProofLogin{User: f.user, Proof: mfa.Proof{Method: mfa.WebAuthn, AMR: []string{mfa.AMRHardware, mfa.AMRUser}},
		Delivery: authflow.Token, ClientID: f.third.ID}, use); !errors.Is(err, authflow.ErrUnauthorizedClient) || res.Tokens.AccessToken != "" {
		t.Fatalf("passkey login for a third-party client = %+v, %v", res, err)
	}
	cur, err := flows.Login(ctx, authflow.Login{Username: "ann", Password: pw, Delivery: authflow.Cookie}, use)
	if err != nil || cur.MFA == nil {
		t.Fatalf("cookie login = %+v, %v", cur, err)
	}
	first, err := flows.CompleteWith(ctx, authflow.SecondFactor{MFAToken: cur.MFA.Token.Reveal(), Method: mfa.WebAuthn}, prove, use)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := flows.StepUp(ctx, first.Session, mfa.Proof{Method: mfa.Password, AMR: []string{mfa.AMRPassword}},
		authflow.Target{Delivery: authflow.Token, ClientID: f.third.ID}, use); !errors.Is(err, authflow.ErrUnauthorizedClient) || res.Tokens.AccessToken != "" {
		t.Fatalf("StepUp to a third-party client = %+v, %v", res, err)
	}
}
