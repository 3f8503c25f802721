package tokenstate_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/session"
)

// TestRevokedJWTPresentedIsASignal: a JWT whose jti was revoked, presented
// again as a bearer credential, is refused and publishes a refused
// validation naming its session and user (detection's
// revoked_token_reuse).
func TestRevokedJWTPresentedIsASignal(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.Revoke(ctx, f.spa, f.jwt); err != nil {
		t.Fatal(err)
	}
	f.rec.Reset()
	use := session.Use{IP: netip.MustParseAddr("203.0.113.9"), UserAgent: "curl/8.5.0"}
	if _, err := f.svc.AccessSession(ctx, f.jwt, use); err == nil {
		t.Fatal("a revoked JWT was accepted")
	}
	v := f.rec.Of(event.SessionValidated)
	if len(v) != 1 || v[0].Reason != event.ReasonRevoked || v[0].SessionID != f.sid || v[0].UserID != "u1" ||
		v[0].JTI == "" || v[0].Token != event.TokenAccess || v[0].IP != use.IP || v[0].Via != "" {
		t.Fatalf("a revoked JWT's validation: %+v", v)
	}
}
