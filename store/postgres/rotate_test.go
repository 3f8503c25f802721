package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/postgres"
	"github.com/tessera-auth/tessera/store/postgres/pgtest"
	"github.com/tessera-auth/tessera/store/storetest"
)

// TestRotateCommitRefused: the pipelined rotation (writes and COMMIT in
// one round trip) reports a COMMIT the server refuses as an error, leaves
// nothing of the rotation behind, and hands back a connection on which
// the next rotation works.
func TestRotateCommitRefused(t *testing.T) {
	ctx := context.Background()
	u := migratedURL(t)
	s, err := postgres.Open(ctx, u+"&pool_max_conns=1") // one connection: the next rotation reuses it
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	head := storetest.Family(t, s, "ann", now)
	pgtest.Exec(t, u, `CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'io_error'; END $$`)
	pgtest.Exec(t, u, `CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON refresh_tokens
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()`)
	decide := func() func(store.RefreshState) store.RefreshPlan {
		return storetest.Decide(oauth.Presentation{ClientID: "app", Successor: storetest.NewHash(t), Now: now, TTL: time.Hour})
	}
	if res, err := s.RotateRefreshToken(ctx, head, decide()); err == nil {
		t.Fatalf("a refused COMMIT was acknowledged: %+v", res)
	}
	rt, err := s.RefreshTokenByHash(ctx, head)
	if err != nil || !rt.UsedAt.IsZero() {
		t.Fatalf("the refused rotation is visible: %+v, %v", rt, err)
	}
	pgtest.Exec(t, u, "DROP TRIGGER refuse_at_commit ON refresh_tokens")
	if res, err := s.RotateRefreshToken(ctx, head, decide()); err != nil || res.Outcome != store.RefreshRotated {
		t.Fatalf("rotation after the refusal: %+v, %v", res, err)
	}
}
