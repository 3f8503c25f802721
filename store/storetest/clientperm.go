package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/store"
)

// testClientPermissions: a client's introspection permission, allowed
// resources and own audience round-trip (issue 10, L3), and so do its
// first-party mark and revocation-feed permission.
func testClientPermissions(t *testing.T, s store.Store) {
	ctx := context.Background()
	rs := store.Client{ID: "rs1", Name: "notes-api", SecretHash: []byte("h"), Grants: []string{"client_credentials"}, TokenFormat: "jwt",
		CreatedAt: base, Introspect: true, Audience: "https://notes.example", RevocationFeed: true}
	app := store.Client{ID: "app1", Name: "notes-app", Grants: []string{"refresh_token"}, TokenFormat: "jwt", CreatedAt: base.Add(time.Second),
		Resources: []string{"https://notes.example", "https://files.example"}, FirstParty: true}
	for _, c := range []store.Client{rs, app} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.ClientByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Introspect != c.Introspect || got.Audience != c.Audience || !reflect.DeepEqual(got.Resources, c.Resources) ||
			got.FirstParty != c.FirstParty || got.RevocationFeed != c.RevocationFeed {
			t.Fatalf("client %s: %+v, want %+v", c.ID, got, c)
		}
	}
	all, err := s.ListClients(ctx)
	if err != nil || len(all) != 2 || !all[0].Introspect && !all[1].Introspect {
		t.Fatalf("ListClients: %+v %v", all, err)
	}
	// The first-party mark and the feed permission change with an update,
	// both ways (issue 10).
	rs.FirstParty, rs.RevocationFeed, app.FirstParty = true, false, false
	for _, c := range []store.Client{rs, app} {
		if err := s.UpdateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ClientByID(ctx, c.ID); err != nil || got.FirstParty != c.FirstParty || got.RevocationFeed != c.RevocationFeed {
			t.Fatalf("updated client %s: %+v, %v", c.ID, got, err)
		}
	}
}
