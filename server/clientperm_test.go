package server

import (
	"testing"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/event/eventtest"
)

// TestPasswordLoginIsFirstPartyOnly: RFC 9700 §2.4 forbids the resource
// owner password credentials grant, and a /v1/login with token delivery
// for a named client is that grant. A third-party public client is
// refused (400 unauthorized_client, an event naming it), before the
// password is checked; the built-in first party and a client an
// administrator marked first party log in (issue 10).
func TestPasswordLoginIsFirstPartyOnly(t *testing.T) {
	e := newEnv(t)
	rec := &eventtest.Recorder{}
	e.events.Subscribe(rec)
	e.addUser("ann", pw)
	third, _ := e.addClient(map[string]any{"name": "third", "grants": []string{"refresh_token"}, "public": true})
	if r := e.adminDo("GET", "/admin/v1/clients/"+third, nil); r.json(t)["first_party"] != false {
		t.Fatalf("a client is third party unless registered otherwise: %s", r.body)
	}
	login := func(client, password string) resp {
		return e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ann", "password": password, "delivery": "token", "client_id": client})
	}
	rec.Reset()
	r := login(third, pw)
	wantProblem(t, r, 400, "unauthorized_client")
	if r.json(t)["access_token"] != nil {
		t.Fatalf("tokens for a third-party client: %s", r.body)
	}
	failed := rec.Of(event.LoginFailed)
	if len(failed) != 1 || failed[0].Reason != event.ReasonUnauthorizedClient || failed[0].ClientID != third || len(rec.Of(event.LoginSucceeded)) != 0 {
		t.Fatalf("events: %+v", rec.Events())
	}
	// The same answer with a wrong password: no password oracle.
	wantProblem(t, login(third, "not the password at all"), 400, "unauthorized_client")

	// The built-in first party, by its client_id, logs in.
	if r := login("tessera", pw); r.StatusCode != 200 || r.json(t)["refresh_token"] == nil {
		t.Fatalf("first-party login: %d %s", r.StatusCode, r.body)
	}
	// An administrator marks the client first party: it logs in; and
	// takes the mark away: it is refused again.
	if r := e.adminDo("PATCH", "/admin/v1/clients/"+third, map[string]any{"first_party": true}); r.StatusCode != 200 || r.json(t)["first_party"] != true {
		t.Fatalf("patch: %d %s", r.StatusCode, r.body)
	}
	if r := login(third, pw); r.StatusCode != 200 || r.json(t)["refresh_token"] == nil {
		t.Fatalf("login for a first-party client: %d %s", r.StatusCode, r.body)
	}
	e.adminDo("PATCH", "/admin/v1/clients/"+third, map[string]any{"first_party": false})
	wantProblem(t, login(third, pw), 400, "unauthorized_client")
	// Cookie delivery ignores client_id, as before.
	if r := e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ann", "password": pw, "client_id": third}); r.StatusCode != 200 {
		t.Fatalf("cookie login: %d %s", r.StatusCode, r.body)
	}
}

// TestRevocationFeedIsAPermission: reading the feed is a verifier's
// permission an administrator grants (revocation_feed), not something
// every confidential client may do: without it, 403 unauthorized_client
// (issue 10).
func TestRevocationFeedIsAPermission(t *testing.T) {
	e := newEnv(t)
	id, secret := e.addClient(map[string]any{"name": "worker", "grants": []string{"client_credentials"}})
	r := e.adminDo("GET", "/admin/v1/clients/"+id, nil)
	if r.json(t)["revocation_feed"] != false {
		t.Fatalf("a client has no feed permission unless granted: %s", r.body)
	}
	feed := func() resp { return e.do(e.public, "GET", "/v1/revocations", nil, basic(id, secret)...) }
	r = feed()
	wantProblem(t, r, 403, "unauthorized_client")
	if r.json(t)["revocations"] != nil {
		t.Fatalf("entries without the permission: %s", r.body)
	}
	if r := e.adminDo("PATCH", "/admin/v1/clients/"+id, map[string]any{"revocation_feed": true}); r.StatusCode != 200 || r.json(t)["revocation_feed"] != true {
		t.Fatalf("grant: %d %s", r.StatusCode, r.body)
	}
	if r := feed(); r.StatusCode != 200 {
		t.Fatalf("feed with the permission: %d %s", r.StatusCode, r.body)
	}
	e.adminDo("PATCH", "/admin/v1/clients/"+id, map[string]any{"revocation_feed": false})
	wantProblem(t, feed(), 403, "unauthorized_client")
	// A public client cannot hold it.
	wantProblem(t, e.adminDo("POST", "/admin/v1/clients", map[string]any{"name": "spa", "public": true, "grants": []string{"refresh_token"}, "revocation_feed": true}), 400, "invalid_client_metadata")
}
