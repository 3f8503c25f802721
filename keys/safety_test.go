package keys

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

func published(ks *Keyset) map[string]bool {
	m := map[string]bool{}
	for _, k := range ks.JWKS().Keys {
		m[k.KeyID] = true
	}
	return m
}

func stateOf(t *testing.T, ks *Keyset, state string) string {
	t.Helper()
	infos, err := ks.Stored(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if in.State == state && in.RevokedAt.IsZero() {
			return in.KID
		}
	}
	t.Fatalf("no %s key in %+v", state, infos)
	return ""
}

// TestRotateCheckedWaitsForPublication: the first rotation is safe (both
// keys were created together, every JWKS ever served held the next key);
// a second one right after is refused until the new next key has been
// published for PublishWait, unless forced (issue 10, key rotation safety).
func TestRotateCheckedWaitsForPublication(t *testing.T) {
	st := sqlitetest.Open(t)
	c := clocktest.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	ks := newKeyset(t, st, master(t), c, "ES256")
	ctx := context.Background()
	if ks.cfg.PublishWait != JWKSMaxAge+30*time.Second+time.Minute {
		t.Fatalf("default PublishWait %v", ks.cfg.PublishWait)
	}
	c.Add(time.Second)
	next := stateOf(t, ks, store.KeyNext)
	if kid, err := ks.RotateChecked(ctx, false); err != nil || kid != next {
		t.Fatalf("first rotation: %s, %v (want %s)", kid, err, next)
	}
	c.Add(ks.cfg.PublishWait - time.Second)
	_, err := ks.RotateChecked(ctx, false)
	if !errors.Is(err, ErrRotationUnsafe) || !strings.Contains(err.Error(), "force") {
		t.Fatalf("second rotation within PublishWait: %v", err)
	}
	if stateOf(t, ks, store.KeyActive) != next {
		t.Fatal("a refused rotation changed the keyset")
	}
	c.Add(time.Second)
	newer := stateOf(t, ks, store.KeyNext)
	if kid, err := ks.RotateChecked(ctx, false); err != nil || kid != newer {
		t.Fatalf("rotation once the next key is old enough: %s, %v", kid, err)
	}
	newest := stateOf(t, ks, store.KeyNext)
	if kid, err := ks.RotateChecked(ctx, true); err != nil || kid != newest {
		t.Fatalf("forced rotation: %s, %v", kid, err)
	}
}

// TestRotateCheckedReadsTheStore: a rotation another node made is seen at
// once by the operator's view and by the check, not a reload later.
func TestRotateCheckedReadsTheStore(t *testing.T) {
	st := sqlitetest.Open(t)
	c := clocktest.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	m := master(t)
	a, b := newKeyset(t, st, m, c, "ES256"), newKeyset(t, st, m, c, "ES256")
	ctx := context.Background()
	c.Add(time.Second)
	kid, err := a.RotateChecked(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := stateOf(t, b, store.KeyActive); got != kid {
		t.Fatalf("b's view says %s is active, the store %s", got, kid)
	}
	if _, err := b.RotateChecked(ctx, false); !errors.Is(err, ErrRotationUnsafe) {
		t.Fatalf("b rotated again over a's fresh next key: %v", err)
	}
}

// TestScheduledRotationWaits: Tick's scheduled rotation waits for the next
// key to be published long enough, like a manual one.
func TestScheduledRotationWaits(t *testing.T) {
	st := sqlitetest.Open(t)
	c := clocktest.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	ks, err := New(st, master(t), Config{RotationInterval: time.Minute, RetiredTTL: time.Hour, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ks.Load(ctx); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	first := stateOf(t, ks, store.KeyNext)
	if err := ks.Tick(ctx); err != nil || stateOf(t, ks, store.KeyActive) != first {
		t.Fatalf("first scheduled rotation: %v", err)
	}
	c.Add(time.Minute) // due again, but the next key is a minute old
	if err := ks.Tick(ctx); err != nil || stateOf(t, ks, store.KeyActive) != first {
		t.Fatalf("scheduled rotation over a fresh next key: %v", err)
	}
	c.Add(ks.cfg.PublishWait)
	if err := ks.Tick(ctx); err != nil || stateOf(t, ks, store.KeyActive) == first {
		t.Fatalf("scheduled rotation once safe: %v", err)
	}
}

// TestRevoke: revoking the active key activates the next one and revokes
// the old one (never published again, not even by a reload or another
// node); revoking the next key replaces it; an unknown kid is ErrNotFound.
func TestRevoke(t *testing.T) {
	st := sqlitetest.Open(t)
	c := clocktest.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	m := master(t)
	a, b := newKeyset(t, st, m, c, "ES256"), newKeyset(t, st, m, c, "ES256")
	rec := &eventtest.Recorder{}
	a.cfg.Events = rec
	ctx := context.Background()
	old, next := stateOf(t, a, store.KeyActive), stateOf(t, a, store.KeyNext)
	active, err := a.Revoke(ctx, old)
	if err != nil || active != next {
		t.Fatalf("revoke active: %s, %v (want %s active)", active, err, next)
	}
	if s, _ := a.Active(); s.KID != next {
		t.Fatalf("a signs with %s", s.KID)
	}
	if published(a)[old] {
		t.Fatal("the revoked key is still in a's JWKS")
	}
	if _, err := a.PublicKey(old); !errors.Is(err, ErrUnknownKID) {
		t.Fatalf("PublicKey(revoked) = %v", err)
	}
	if e := rec.Of(event.KeyRevoked); len(e) != 1 || e[0].KID != old {
		t.Fatalf("KeyRevoked: %+v", e)
	}
	// b has not reloaded: it still publishes the key until told.
	if !published(b)[old] {
		t.Fatal("test premise: b's copy predates the revocation")
	}
	b.Revoked(ctx, old)
	if published(b)[old] {
		t.Fatal("b still publishes the revoked key")
	}
	if s, _ := b.Active(); s == nil || s.KID != next {
		t.Fatalf("b signs with %+v after the revocation", s)
	}
	if err := b.reload(ctx); err != nil || published(b)[old] {
		t.Fatalf("a reload brought the revoked key back: %v", err)
	}

	newNext := stateOf(t, a, store.KeyNext)
	if _, err := a.Revoke(ctx, newNext); err != nil {
		t.Fatal(err)
	}
	replacement := stateOf(t, a, store.KeyNext)
	if replacement == newNext || !published(a)[replacement] || published(a)[newNext] {
		t.Fatalf("revoked next %s, replacement %s, published %v", newNext, replacement, published(a))
	}
	if _, err := a.Revoke(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown kid: %v", err)
	}
	feed, _ := st.Revocations(ctx, 0, 10)
	if len(feed) != 2 || feed[0].KID != old || !feed[0].ExpiresAt.Equal(c.Now().Add(time.Hour)) || feed[0].Reason != RevokeReason {
		t.Fatalf("feed: %+v", feed)
	}
}

func TestRotationSafeAt(t *testing.T) {
	t0 := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	k := func(id, state string, created time.Time) store.SigningKey {
		return store.SigningKey{ID: id, State: state, CreatedAt: created}
	}
	w := 7 * time.Minute
	for _, tt := range []struct {
		name   string
		stored []store.SigningKey
		at     time.Time
		ok     bool
	}{
		{"created together", []store.SigningKey{k("a", store.KeyActive, t0), k("n", store.KeyNext, t0)}, time.Time{}, true},
		{"made by a rotation", []store.SigningKey{k("r", store.KeyRetired, t0), k("a", store.KeyActive, t0), k("n", store.KeyNext, t0.Add(time.Hour))}, t0.Add(time.Hour + w), true},
		{"older keys deleted", []store.SigningKey{k("a", store.KeyActive, t0), k("n", store.KeyNext, t0.Add(time.Hour))}, t0.Add(time.Hour + w), true},
		{"no next key", []store.SigningKey{k("a", store.KeyActive, t0)}, time.Time{}, false},
	} {
		at, ok := RotationSafeAt(tt.stored, w)
		if !at.Equal(tt.at) || ok != tt.ok {
			t.Errorf("%s: %v %v, want %v %v", tt.name, at, ok, tt.at, tt.ok)
		}
	}
}
