package session

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
)

func TestEvents(t *testing.T) {
	f := newFixture(t)
	rec := &eventtest.Recorder{}
	f.cfg.Events = rec
	m := f.manager(nil)
	ctx := context.Background()

	raw, s := f.login(t, m)
	created := rec.Of(event.SessionCreated)
	if len(created) != 1 || created[0].SessionID != s.ID || created[0].UserID != f.User.ID ||
		created[0].IP != netip.MustParseAddr("192.0.2.1") || !created[0].At.Equal(f.Clock.Now()) {
		t.Fatalf("SessionCreated: %+v", created)
	}

	use := Use{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: "curl/8.5"}
	f.Clock.Add(2 * time.Minute) // past the touch interval: this use renews
	if _, err := m.Validate(ctx, raw, use); err != nil {
		t.Fatal(err)
	}
	v := rec.Of(event.SessionValidated)
	if len(v) != 1 || v[0].SessionID != s.ID || v[0].UserID != f.User.ID || v[0].IP != use.IP ||
		v[0].UserAgent != "curl/8.5" || v[0].Reason != "" || !v[0].At.Equal(f.Clock.Now()) {
		t.Fatalf("SessionValidated: %+v", v)
	}
	if r := rec.Of(event.SessionRenewed); len(r) != 1 || r[0].SessionID != s.ID || !r[0].At.Equal(f.Clock.Now()) {
		t.Fatalf("SessionRenewed: %+v", r)
	}
	// Within the touch interval: validated, not renewed again.
	at := f.Clock.Now().Add(time.Hour) // a caller-supplied time of use is kept
	if _, err := m.ValidateID(ctx, s.ID, Use{At: at}); err != nil {
		t.Fatal(err)
	}
	if v := rec.Of(event.SessionValidated); len(v) != 2 || !v[1].At.Equal(at) || v[1].SessionID != s.ID {
		t.Fatalf("ValidateID's SessionValidated: %+v", v)
	}
	if r := rec.Of(event.SessionRenewed); len(r) != 1 {
		t.Fatalf("renewed twice within the touch interval: %+v", r)
	}

	if _, err := m.Validate(ctx, "tss_garbage", use); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	if v := rec.Of(event.SessionValidated); v[len(v)-1].Reason != event.ReasonInvalid || v[len(v)-1].IP != use.IP {
		t.Fatalf("a refused token's event: %+v", v[len(v)-1])
	}

	if _, err := m.Revoke(ctx, s.ID, ReasonLogout); err != nil {
		t.Fatal(err)
	}
	rv := rec.Of(event.SessionRevoked)
	if len(rv) != 1 || rv[0].SessionID != s.ID || rv[0].UserID != f.User.ID || rv[0].Reason != ReasonLogout || rv[0].Count != 1 {
		t.Fatalf("SessionRevoked: %+v", rv)
	}
	if got, err := m.Validate(ctx, raw, use); !errors.Is(err, ErrRevoked) || got.ID != "" {
		t.Fatal(got, err)
	}
	// A revoked token presented again names its victim (detection).
	if v := rec.Of(event.SessionValidated); v[len(v)-1].Reason != event.ReasonRevoked || v[len(v)-1].SessionID != s.ID || v[len(v)-1].UserID != f.User.ID {
		t.Fatalf("a revoked token's event: %+v", v[len(v)-1])
	}
	// A client's introspection is no use by the holder: marked.
	if _, err := m.ValidateID(ctx, s.ID, Use{Via: event.ViaIntrospection}); !errors.Is(err, ErrRevoked) {
		t.Fatal(err)
	}
	if v := rec.Of(event.SessionValidated); v[len(v)-1].Via != event.ViaIntrospection {
		t.Fatalf("an introspection's event: %+v", v[len(v)-1])
	}

	// Bulk: the cap (3) evicts the oldest, then RevokeUser counts the rest.
	for range 4 {
		f.login(t, m)
	}
	rv = rec.Of(event.SessionRevoked)
	if last := rv[len(rv)-1]; last.Reason != ReasonLimit || last.Count != 1 || last.UserID != f.User.ID {
		t.Fatalf("cap eviction: %+v", last)
	}
	ids, err := m.RevokeUser(ctx, f.User.ID, "", ReasonPasswordChange)
	if err != nil {
		t.Fatal(err)
	}
	rv = rec.Of(event.SessionRevoked)
	if last := rv[len(rv)-1]; last.Reason != ReasonPasswordChange || last.Count != len(ids) || len(ids) != 3 || last.SessionID != "" {
		t.Fatalf("bulk revocation: %+v (%d ids)", last, len(ids))
	}
	m.Forget(context.Background(), "refresh_reuse", "some-session")
	rv = rec.Of(event.SessionRevoked)
	if last := rv[len(rv)-1]; last.Reason != "refresh_reuse" || last.Count != 1 || last.SessionID != "some-session" {
		t.Fatalf("Forget: %+v", last)
	}
	n := len(rv)
	m.Forget(context.Background(), "refresh_reuse")
	if len(rec.Of(event.SessionRevoked)) != n {
		t.Fatal("revoking nothing published an event")
	}
}

// A password change between the password check and Create is a failed
// login, published as such.
func TestStaleLoginEvent(t *testing.T) {
	f := newFixture(t)
	rec := &eventtest.Recorder{}
	f.cfg.Events = rec
	m := f.manager(nil)
	_, _, err := m.Create(context.Background(), NewSession{UserID: f.User.ID, IP: "203.0.113.9", PasswordChangedAt: f.User.PasswordChangedAt.Add(-time.Hour)})
	if !errors.Is(err, ErrStaleCredentials) {
		t.Fatalf("Create: %v", err)
	}
	fl := rec.Of(event.LoginFailed)
	if len(fl) != 1 || fl[0].Reason != event.ReasonStaleCredentials || fl[0].UserID != f.User.ID || fl[0].IP != netip.MustParseAddr("203.0.113.9") {
		t.Fatalf("LoginFailed: %+v", fl)
	}
	if len(rec.Of(event.SessionCreated)) != 0 {
		t.Fatal("a refused login published SessionCreated")
	}
}

// A warm validation costs no more allocations with an event sink that has
// no subscriber for it than with none at all.
func TestValidateEventAllocations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	allocs := func(ev event.Sink) float64 {
		f.cfg.Events = ev
		m := f.manager(nil)
		raw, _ := f.login(t, m)
		use := Use{IP: netip.MustParseAddr("192.0.2.1"), UserAgent: "ua"}
		return testing.AllocsPerRun(200, func() {
			if _, err := m.Validate(ctx, raw, use); err != nil {
				t.Fatal(err)
			}
		})
	}
	none := allocs(nil)
	fan := event.NewFanout(nil)
	fan.Subscribe(event.Discard, event.LoginFailed)
	if with := allocs(fan); with > none {
		t.Errorf("Validate allocates %v times with an idle sink, %v without", with, none)
	}
	fan.Subscribe(event.Discard, event.SessionValidated)
	if with := allocs(fan); with > none {
		t.Errorf("Validate allocates %v times with a SessionValidated subscriber, %v without", with, none)
	}
}
