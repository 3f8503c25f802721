package server

import (
	"database/sql"
	"net/http"
	"testing"
)

// TestAdminUserLifecycle drives the user lifecycle through the admin API:
// disable (sessions gone, login refused with a clear answer), enable,
// password reset with must-change (the login says what to do, and works
// with new_password), paging and filters, delete (erased, id kept).
func TestAdminUserLifecycle(t *testing.T) {
	e := newEnv(t)
	const pw2 = "another long passphrase"
	id := e.addUser("ann", pw)
	e.addUser("bob", pw)
	b := e.loginCookie("ann", pw)

	r := e.adminDo("PATCH", "/admin/v1/users/"+id, map[string]any{"disabled": true})
	if r.StatusCode != http.StatusOK || r.json(t)["disabled"] != true || r.json(t)["revoked"] != float64(1) {
		t.Fatalf("disable: %d %s", r.StatusCode, r.body)
	}
	if r := e.whoami(b.headers()...); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami after disable: %d", r.StatusCode)
	}
	wantProblem(t, e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ann", "password": pw}), 403, "account_disabled")
	wantProblem(t, e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ann", "password": "not the password"}), 401, "invalid_credentials")

	// Filters and pages.
	if r := e.adminDo("GET", "/admin/v1/users?disabled=true", nil); len(r.json(t)["users"].([]any)) != 1 {
		t.Fatalf("disabled filter: %s", r.body)
	}
	r = e.adminDo("GET", "/admin/v1/users?limit=1", nil)
	next, _ := r.json(t)["next_cursor"].(string)
	if next == "" || r.json(t)["users"].([]any)[0].(map[string]any)["username"] != "ann" {
		t.Fatalf("first page: %s", r.body)
	}
	r = e.adminDo("GET", "/admin/v1/users?limit=1&cursor="+next, nil)
	if _, more := r.json(t)["next_cursor"]; more || r.json(t)["users"].([]any)[0].(map[string]any)["username"] != "bob" {
		t.Fatalf("second page: %s", r.body)
	}
	wantProblem(t, e.adminDo("GET", "/admin/v1/users?limit=0", nil), 400, "invalid_field")
	wantProblem(t, e.adminDo("GET", "/admin/v1/users?disabled=maybe", nil), 400, "invalid_field")

	if r := e.adminDo("PATCH", "/admin/v1/users/"+id, map[string]any{"disabled": false}); r.StatusCode != 200 || r.json(t)["disabled"] != false {
		t.Fatalf("enable: %d %s", r.StatusCode, r.body)
	}
	b = e.loginCookie("ann", pw)

	// Reset with must-change.
	wantProblem(t, e.adminDo("PATCH", "/admin/v1/users/"+id, map[string]any{"password": "short"}), 400, "password_too_short")
	wantProblem(t, e.adminDo("PATCH", "/admin/v1/users/"+id, map[string]any{"must_change_password": true}), 400, "missing_field")
	r = e.adminDo("PATCH", "/admin/v1/users/"+id, map[string]any{"password": pw2, "must_change_password": true})
	if r.StatusCode != 200 || r.json(t)["must_change_password"] != true || r.json(t)["revoked"] != float64(1) {
		t.Fatalf("reset: %d %s", r.StatusCode, r.body)
	}
	if r := e.whoami(b.headers()...); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("whoami after reset: %d", r.StatusCode)
	}
	wantProblem(t, e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ann", "password": pw2}), 403, "password_change_required")
	r = e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ann", "password": pw2, "new_password": "my very own passphrase"})
	if r.StatusCode != 200 {
		t.Fatalf("login with new_password: %d %s", r.StatusCode, r.body)
	}
	if r := e.adminDo("GET", "/admin/v1/users/"+id, nil); r.json(t)["must_change_password"] != false {
		t.Fatalf("flag after change: %s", r.body)
	}

	// Delete.
	r = e.adminDo("DELETE", "/admin/v1/users/"+id, nil)
	if r.StatusCode != 200 || r.json(t)["deleted"] != true || r.json(t)["username"] != nil {
		t.Fatalf("delete: %d %s", r.StatusCode, r.body)
	}
	if r := e.adminDo("GET", "/admin/v1/users/"+id, nil); r.StatusCode != 200 || r.json(t)["deleted"] != true {
		t.Fatalf("get deleted: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.adminDo("PATCH", "/admin/v1/users/"+id, map[string]any{"disabled": false}), 409, "user_deleted")
	wantProblem(t, e.adminDo("DELETE", "/admin/v1/users/nope", nil), 404, "not_found")
	if r := e.adminDo("GET", "/admin/v1/users", nil); len(r.json(t)["users"].([]any)) != 1 {
		t.Fatalf("list after delete: %s", r.body)
	}
	// The name is free again.
	e.addUser("ann", pw)
}

// TestAdminClearThrottles: a throttled account logs in once an
// administrator clears its throttles.
func TestAdminClearThrottles(t *testing.T) {
	e := newEnv(t)
	id := e.addUser("ann", pw)
	var last resp
	for range 10 {
		last = e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ann", "password": "not the password"})
		if last.StatusCode == http.StatusTooManyRequests {
			break
		}
	}
	wantProblem(t, e.do(e.public, "POST", "/v1/login", map[string]string{"username": "ann", "password": pw}), 429, "too_many_attempts")
	if r := e.adminDo("DELETE", "/admin/v1/users/"+id+"/throttles", nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("clear throttles: %d %s", r.StatusCode, r.body)
	}
	e.loginCookie("ann", pw)
}

// TestAdminPatchUserAllOrNothing: a PATCH with a password and "disabled"
// is one decision. When the disabling fails (a trigger refuses it inside
// the store's transaction), the password is not changed and no session
// ends either: the user is exactly as before.
func TestAdminPatchUserAllOrNothing(t *testing.T) {
	e := newEnv(t)
	id := e.addUser("ann", pw)
	b := e.loginCookie("ann", pw)
	raw, err := sql.Open("sqlite", e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TRIGGER refuse_disable BEFORE UPDATE OF disabled_at ON users
		WHEN NEW.disabled_at IS NOT NULL BEGIN SELECT RAISE(ABORT, 'injected failure'); END`); err != nil {
		t.Fatal(err)
	}
	r := e.adminDo("PATCH", "/admin/v1/users/"+id, map[string]any{"password": "another long passphrase", "disabled": true})
	if r.StatusCode < 500 {
		t.Fatalf("PATCH with a failing disable: %d %s", r.StatusCode, r.body)
	}
	if r := e.adminDo("GET", "/admin/v1/users/"+id, nil); r.json(t)["disabled"] != false {
		t.Fatalf("user after the failed PATCH: %s", r.body)
	}
	if r := e.whoami(b.headers()...); r.StatusCode != http.StatusOK {
		t.Fatalf("the session ended though the PATCH failed: %d", r.StatusCode)
	}
	if _, err := raw.Exec(`DROP TRIGGER refuse_disable`); err != nil {
		t.Fatal(err)
	}
	e.loginCookie("ann", pw) // the old password still works

	// Without the failure both parts apply together: disabled, and the
	// sessions ended once, as a disabling.
	r = e.adminDo("PATCH", "/admin/v1/users/"+id, map[string]any{"password": "another long passphrase", "disabled": true})
	if r.StatusCode != http.StatusOK || r.json(t)["disabled"] != true || r.json(t)["revoked"] != float64(2) {
		t.Fatalf("PATCH: %d %s", r.StatusCode, r.body)
	}
	r = e.adminDo("PATCH", "/admin/v1/users/"+id, map[string]any{"disabled": false})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("enable: %d %s", r.StatusCode, r.body)
	}
	e.loginCookie("ann", "another long passphrase")
}
