package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
)

// Open creates and migrates a SQLite store in a folder of t's own, and
// closes it when t ends. It fails t when the store cannot be opened.
func Open(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tessera.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// NewUser stores the one account most tests need, u1 named alice with a
// placeholder password hash, created (and her password set) at at, and
// returns it.
func NewUser(t testing.TB, st store.Store, at time.Time) store.User {
	t.Helper()
	u := store.User{ID: "u1", Username: "alice", PasswordHash: "x", CreatedAt: at, PasswordChangedAt: at}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// Fixture is where most store-backed tests start: a fresh store, a clock
// that moves only when the test moves it, and one user created at its
// start.
type Fixture struct {
	Store *sqlite.Store
	Clock *clocktest.Clock
	User  store.User
}

// NewFixture opens a store (see Open), starts the clock at 2026-05-01
// 09:00 UTC and stores the user (see NewUser) at that time.
func NewFixture(t testing.TB) *Fixture {
	t.Helper()
	st := Open(t)
	c := clocktest.New(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	return &Fixture{Store: st, Clock: c, User: NewUser(t, st, c.Now())}
}
