package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
)

func TestRequireStepUp(t *testing.T) {
	f := newFixture(t)
	rec := &eventtest.Recorder{}
	f.cfg.Events = rec
	m := f.manager(nil)
	ctx := context.Background()
	raw, s := f.login(t, m)
	if s.StepUpRequired || !s.VouchedAuthTime().Equal(s.AuthTime) {
		t.Fatalf("a new session: %+v", s)
	}
	f.Clock.Add(time.Minute)
	if err := m.RequireStepUp(ctx, s.ID, "new_device"); err != nil {
		t.Fatal(err)
	}
	// The cached copy was unmarked: this node must not answer from it.
	got, err := m.Validate(ctx, raw, Use{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.StepUpRequired || !got.AuthTime.Equal(s.AuthTime) || !got.VouchedAuthTime().IsZero() {
		t.Fatalf("after RequireStepUp, Validate = %+v (vouched %v)", got, got.VouchedAuthTime())
	}
	if got, err := m.ValidateID(ctx, s.ID, Use{}); err != nil || !got.StepUpRequired {
		t.Fatalf("ValidateID = %+v, %v", got, err)
	}
	// A restarted node reads the mark from the store.
	if got, err := f.manager(nil).Validate(ctx, raw, Use{}); err != nil || !got.StepUpRequired {
		t.Fatalf("a fresh node: %+v, %v", got, err)
	}
	ev := rec.Of(event.StepUpRequired)
	if len(ev) != 1 || ev[0].SessionID != s.ID || ev[0].UserID != f.User.ID || ev[0].Reason != "new_device" || !ev[0].At.Equal(f.Clock.Now()) {
		t.Fatalf("StepUpRequired events: %+v", ev)
	}
	// Marking again changes nothing and says nothing.
	f.Clock.Add(time.Second)
	if err := m.RequireStepUp(ctx, s.ID, "impossible_travel"); err != nil {
		t.Fatal(err)
	}
	if ev := rec.Of(event.StepUpRequired); len(ev) != 1 {
		t.Fatalf("a second mark published: %+v", ev)
	}
	// The session that replaces it (a step-up renews it) has no mark.
	if _, s2 := f.login(t, m); s2.StepUpRequired {
		t.Fatal("a new session inherited a mark")
	}
	if err := m.RequireStepUp(ctx, "nope", "new_device"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown session: %v, want ErrNotFound", err)
	}
	if _, err := m.Revoke(ctx, s.ID, ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if err := m.RequireStepUp(ctx, s.ID, "new_device"); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked session: %v, want ErrRevoked", err)
	}
}

// TestStepUpReachesOtherNode: a node that cached the session unmarked
// drops it when it reads the mark's feed entry, without a restart.
func TestStepUpReachesOtherNode(t *testing.T) {
	f := newFixture(t)
	a, b := f.manager(nil), f.manager(nil)
	ctx := context.Background()
	raw, s := f.login(t, a)
	for _, m := range []*Manager{a, b} {
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := b.Validate(ctx, raw, Use{}); err != nil || got.StepUpRequired {
		t.Fatalf("b before the mark: %+v, %v", got, err)
	}
	if err := a.RequireStepUp(ctx, s.ID, "new_device"); err != nil {
		t.Fatal(err)
	}
	if err := b.Follow(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Validate(ctx, raw, Use{}); err != nil || !got.StepUpRequired {
		t.Fatalf("b after following the feed: %+v, %v", got, err)
	}
	if got, err := b.ValidateID(ctx, s.ID, Use{}); err != nil || !got.StepUpRequired {
		t.Fatalf("b by id: %+v, %v", got, err)
	}
}

// TestRecheck: a node whose cache still holds a session unmarked (the
// feed has not brought the mark yet) learns of the mark when a sensitive
// use rechecks the session, and stops serving its stale copy.
func TestRecheck(t *testing.T) {
	f := newFixture(t)
	a, b := f.manager(nil), f.manager(nil)
	ctx := context.Background()
	raw, s := f.login(t, a)
	if err := b.RequireStepUp(ctx, s.ID, "new_device"); err != nil {
		t.Fatal(err)
	}
	cur, err := a.Validate(ctx, raw, Use{})
	if err != nil || cur.StepUpRequired {
		t.Fatalf("a's cached copy: %+v, %v (the test needs it stale)", cur, err)
	}
	got, err := a.Recheck(ctx, cur)
	if err != nil || !got.StepUpRequired || got.ID != s.ID {
		t.Fatalf("Recheck = %+v, %v", got, err)
	}
	if v, err := a.Validate(ctx, raw, Use{}); err != nil || !v.StepUpRequired {
		t.Fatalf("a after Recheck: %+v, %v", v, err)
	}
	if _, err := b.Revoke(ctx, s.ID, ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Recheck(ctx, cur); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Recheck of a revoked session: %v, want ErrRevoked", err)
	}
	if _, err := a.Recheck(ctx, Session{ID: "nope"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Recheck of an unknown session: %v, want ErrInvalid", err)
	}
}
