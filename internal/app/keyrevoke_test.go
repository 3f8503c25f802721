package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/internal/app"
)

// TestKeyRevocationReachesOtherNodes (issue 10, M2a): two nodes on one
// store; a key revoked through node A's admin API is refused by node B as
// soon as B's feed follower reads the entry — not at B's next keyset
// reload, up to 30 s later — though B had just verified (and cached) a
// token it signed, and B signs new tokens with the new active key.
func TestKeyRevocationReachesOtherNodes(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := app.New(ctx, c, app.Options{AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := a.Auth.CreateUser(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	login := func() string {
		w := do(b.Public(), "POST", "/v1/login", `{"username":"alice","password":"correct horse battery staple","delivery":"token"}`, "")
		if w.Code != 200 {
			t.Fatalf("login: %d %s", w.Code, w.Body)
		}
		return between(w.Body.String(), `"access_token":"`, `"`)
	}
	at := login()
	if w := do(b.Public(), "GET", "/v1/session", "", "Bearer "+at); w.Code != 200 {
		t.Fatalf("node B before: %d %s", w.Code, w.Body)
	}
	signer, err := b.Keys.Active()
	if err != nil {
		t.Fatal(err)
	}
	w := do(a.Admin(), "POST", "/admin/v1/keys/"+signer.KID+"/revoke", "", "Bearer "+adminToken)
	if w.Code != 200 {
		t.Fatalf("revoke on node A: %d %s", w.Code, w.Body)
	}
	// B's poll (Run calls Follow every revocation_poll).
	if err := b.Sessions.Follower().Follow(ctx); err != nil {
		t.Fatal(err)
	}
	if w := do(b.Public(), "GET", "/v1/session", "", "Bearer "+at); w.Code != 401 {
		t.Fatalf("node B accepts a token of the revoked key: %d %s", w.Code, w.Body)
	}
	if w := do(b.Public(), "GET", "/.well-known/jwks.json", "", ""); strings.Contains(w.Body.String(), signer.KID) {
		t.Fatal("node B still publishes the revoked key")
	}
	fresh := login()
	if w := do(a.Public(), "GET", "/v1/session", "", "Bearer "+fresh); w.Code != 200 {
		t.Fatalf("node A refuses node B's new token: %d %s", w.Code, w.Body)
	}
	if s, _ := b.Keys.Active(); s == nil || s.KID == signer.KID {
		t.Fatal("node B still signs with the revoked key")
	}
}
