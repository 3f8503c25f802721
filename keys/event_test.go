package keys

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
	"github.com/tessera-auth/tessera/internal/clocktest"
	"github.com/tessera-auth/tessera/store/sqlite/sqlitetest"
)

// A rotation this node commits is published with the new active key; a
// rotation another node won is not (that node published it).
func TestKeyRotatedEvent(t *testing.T) {
	st := sqlitetest.Open(t)
	c := clocktest.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	m := master(t)
	a, b := newKeyset(t, st, m, c, "ES256"), newKeyset(t, st, m, c, "ES256")
	rec := &eventtest.Recorder{}
	a.cfg.Events, b.cfg.Events = rec, rec
	ctx := context.Background()
	kid, err := a.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := rec.Of(event.KeyRotated)
	if len(e) != 1 || e[0].KID != kid || !e[0].At.Equal(c.Now()) {
		t.Fatalf("KeyRotated: %+v (active %s)", e, kid)
	}
	// b still believes the old key is active: its rotation conflicts.
	if _, err := b.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Of(event.KeyRotated)); n != 1 {
		t.Fatalf("a lost rotation published: %d events", n)
	}
}
