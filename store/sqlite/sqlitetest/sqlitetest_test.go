package sqlitetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// TestOpen: each call is a fresh, usable store of its own.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	a, b := Open(t), Open(t)
	if err := a.CreateUser(ctx, store.User{ID: "u1", Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UserByUsername(ctx, "alice"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a user created in one store is in another: %v", err)
	}
	if u, err := a.UserByUsername(ctx, "alice"); err != nil || u.ID != "u1" {
		t.Fatalf("UserByUsername = %+v, %v", u, err)
	}
}

// TestNewUser: the user is stored as returned.
func TestNewUser(t *testing.T) {
	st := Open(t)
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	u := NewUser(t, st, at)
	got, err := st.UserByUsername(context.Background(), "alice")
	if err != nil || got.ID != u.ID || !got.CreatedAt.Equal(at) || !got.PasswordChangedAt.Equal(at) || got.PasswordHash != u.PasswordHash {
		t.Fatalf("stored %+v, %v; NewUser returned %+v", got, err, u)
	}
}

// TestNewFixture: the user is in the fixture's store, created at the
// clock's start, and the clock moves only when told.
func TestNewFixture(t *testing.T) {
	f := NewFixture(t)
	start := f.Clock.Now()
	got, err := f.Store.UserByUsername(context.Background(), f.User.Username)
	if err != nil || got.ID != f.User.ID || !got.CreatedAt.Equal(start) {
		t.Fatalf("stored %+v, %v; want %+v created at %v", got, err, f.User, start)
	}
	f.Clock.Add(time.Minute)
	if got := f.Clock.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("clock at %v after a minute from %v", got, start)
	}
}
