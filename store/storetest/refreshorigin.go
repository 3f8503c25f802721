package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/token"
)

// peekRefresh returns the RefreshState a presentation of h would be judged
// on, writing nothing.
func peekRefresh(t *testing.T, s store.Store, h token.Hash) store.RefreshState {
	t.Helper()
	var seen store.RefreshState
	_, err := s.RotateRefreshToken(context.Background(), h, func(st store.RefreshState) store.RefreshPlan {
		seen = st
		return store.RefreshPlan{Outcome: store.RefreshRefused, Reason: "peek"}
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

// testRefreshGraceOrigin: a rotation records its origin on the token it
// used, and a grace retry marks the token's retry spent: what oauth's
// policy needs to forgive a retry only from the rotation's network and user
// agent, and only once (issue 10, L1).
func testRefreshGraceOrigin(t *testing.T, s store.Store) {
	here, there := []byte("origin-a-0123456789abcdef0123456"), []byte("origin-b-0123456789abcdef0123456")
	now := base.Add(time.Hour)
	p := oauth.Presentation{Now: now, Grace: 5 * time.Second, Origin: here}

	_, rt := refreshFamily(t, s, "olga")
	if st := peekRefresh(t, s, rt.Hash); st.RotatedBy != nil || st.GraceUsed {
		t.Fatalf("unused token: %+v", st)
	}
	if r := rotate(t, s, rt.Hash, p); r.Outcome != store.RefreshRotated {
		t.Fatalf("rotate: %+v", r)
	}
	if st := peekRefresh(t, s, rt.Hash); !bytes.Equal(st.RotatedBy, here) || st.GraceUsed {
		t.Fatalf("after rotation: RotatedBy %q GraceUsed %v", st.RotatedBy, st.GraceUsed)
	}
	p.Now = now.Add(time.Second)
	if r := rotate(t, s, rt.Hash, p); r.Outcome != store.RefreshGraceRetry {
		t.Fatalf("retry from the same origin: %+v", r)
	}
	if st := peekRefresh(t, s, rt.Hash); !bytes.Equal(st.RotatedBy, here) || !st.GraceUsed {
		t.Fatalf("after the retry: RotatedBy %q GraceUsed %v", st.RotatedBy, st.GraceUsed)
	}
	if r := rotate(t, s, rt.Hash, p); r.Outcome != store.RefreshReused || r.Reason != oauth.ReuseGraceSpent {
		t.Fatalf("second retry: %+v", r)
	}

	sess, rt := refreshFamily(t, s, "omar")
	p = oauth.Presentation{Now: now, Grace: 5 * time.Second, Origin: here}
	rotate(t, s, rt.Hash, p)
	p.Origin = there
	if r := rotate(t, s, rt.Hash, p); r.Outcome != store.RefreshReused || r.Reason != oauth.ReuseOtherOrigin {
		t.Fatalf("retry from elsewhere: %+v", r)
	}
	if got, _ := s.SessionByID(context.Background(), sess.ID); !got.Revoked() {
		t.Fatal("a retry from elsewhere left the family alive")
	}
}
