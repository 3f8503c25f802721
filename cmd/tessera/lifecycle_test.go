package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIUserLifecycle: disable, enable, reset-password and delete from
// the command line reach a running server through the revocation feed.
func TestCLIUserLifecycle(t *testing.T) {
	data := t.TempDir()
	if _, e, code := tessera(t, data, pw+"\n", nil, "user", "add", "bob", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s", e)
	}
	r := serve(t, data)
	a, _ := login(t, r, "bob")
	loginStatus := func(password string) (int, any) {
		res, m := post(t, r.public+"/v1/login", `{"username":"bob","password":"`+password+`"}`)
		return res.StatusCode, m["code"]
	}

	if out, e, code := tessera(t, data, "", nil, "user", "disable", "bob"); code != 0 || !strings.Contains(out, "revoked 1") {
		t.Fatalf("disable: %d %q %q", code, out, e)
	}
	waitFor(t, 5*time.Second, func() bool { return whoami(t, r, a) == 401 })
	if out, _, _ := tessera(t, data, "", nil, "user", "list"); !strings.Contains(out, "disabled") {
		t.Fatalf("user list while disabled:\n%s", out)
	}
	if st, code := loginStatus(pw); st != 403 || code != "account_disabled" {
		t.Fatalf("login while disabled: %d %v", st, code)
	}
	if _, e, code := tessera(t, data, "", nil, "user", "enable", "bob"); code != 0 {
		t.Fatalf("enable: %s", e)
	}
	b, _ := login(t, r, "bob")

	const reset = "temporary reset passphrase"
	if out, e, code := tessera(t, data, reset+"\n", nil, "user", "reset-password", "bob", "--password-stdin", "--must-change"); code != 0 || !strings.Contains(out, "revoked 1") {
		t.Fatalf("reset-password: %d %q %q", code, out, e)
	}
	waitFor(t, 5*time.Second, func() bool { return whoami(t, r, b) == 401 })
	if st, code := loginStatus(reset); st != 403 || code != "password_change_required" {
		t.Fatalf("login after must-change reset: %d %v", st, code)
	}

	if out, e, code := tessera(t, data, "", nil, "user", "delete", "bob"); code != 0 || !strings.Contains(out, "deleted user") {
		t.Fatalf("delete: %d %q %q", code, out, e)
	}
	if st, code := loginStatus(reset); st != 401 || code != "invalid_credentials" {
		t.Fatalf("login after delete: %d %v", st, code)
	}
	if out, _, _ := tessera(t, data, "", nil, "user", "list"); strings.Contains(out, "bob") || strings.Contains(out, "deleted:") {
		t.Fatalf("user list after delete:\n%s", out)
	}
	if _, e, code := tessera(t, data, "", nil, "user", "disable", "bob"); code == 0 || !strings.Contains(e, `no user "bob"`) {
		t.Fatalf("disable a deleted user: %d %s", code, e)
	}
}

// TestCLIClientLifecycle: rotate a client's secret with an overlap, then
// delete it.
func TestCLIClientLifecycle(t *testing.T) {
	data := t.TempDir()
	if _, e, code := tessera(t, data, "", nil, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", e)
	}
	out, e, code := tessera(t, data, "", nil, "client", "add", "svc")
	if code != 0 {
		t.Fatalf("client add: %s", e)
	}
	id := strings.Fields(strings.SplitN(out, "\n", 2)[0])[1]
	out, e, code = tessera(t, data, "", nil, "client", "rotate-secret", id, "--overlap", "1h")
	if code != 0 || !strings.HasPrefix(out, "client_secret: tsc_") || !strings.Contains(e, "old secret is accepted until") {
		t.Fatalf("rotate-secret: %d %q %q", code, out, e)
	}
	// The first-party mark and the permissions change with update; a
	// flag left out stays (issue 10).
	if out, e, code := tessera(t, data, "", nil, "client", "update", id, "--first-party", "--revocation-feed"); code != 0 || !strings.Contains(out, "first_party=true revocation_feed=true introspect=false") {
		t.Fatalf("client update: %d %q %q", code, out, e)
	}
	if out, e, code := tessera(t, data, "", nil, "client", "update", id, "--revocation-feed=false"); code != 0 || !strings.Contains(out, "first_party=true revocation_feed=false") {
		t.Fatalf("client update: %d %q %q", code, out, e)
	}
	// A mistake in the command line: exit 2, with a message.
	if _, e, code := tessera(t, data, "", nil, "client", "update", id); code != 2 || !strings.Contains(e, "nothing to change") {
		t.Fatalf("client update without flags: %d %q", code, e)
	}
	if _, e, code := tessera(t, data, "", nil, "client", "update", id, "--first-party=maybe"); code != 2 || !strings.Contains(e, "--first-party") {
		t.Fatalf("client update --first-party=maybe: %d %q", code, e)
	}
	if out, e, code := tessera(t, data, "", nil, "client", "delete", id); code != 0 || !strings.Contains(out, "deleted client") {
		t.Fatalf("client delete: %d %q %q", code, out, e)
	}
	if _, e, code := tessera(t, data, "", nil, "client", "delete", id); code == 0 || !strings.Contains(e, "no client") {
		t.Fatalf("delete twice: %d %q", code, e)
	}
}

// TestServePortInUseCreatesNothing: a first start whose port is taken
// fails before it makes the data folder, database or keys.
func TestServePortInUseCreatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	data := filepath.Join(t.TempDir(), "tessera-data")
	for _, args := range [][]string{
		{"serve", "--listen", ln.Addr().String(), "--admin-listen", "127.0.0.1:0"},
		{"serve", "--listen", "127.0.0.1:0", "--admin-listen", ln.Addr().String()},
	} {
		_, e, code := tessera(t, data, "", nil, args...)
		if code == 0 || !strings.Contains(e, "listener") {
			t.Fatalf("%v: exit %d: %s", args, code, e)
		}
		notExist(t, data)
	}
}

// TestServeSQLiteStoreFirstStart: --store sqlite:PATH in a folder that
// does not exist yet works on first start; user add then finds it.
func TestServeSQLiteStoreFirstStart(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db", "tessera.db")
	env := []string{"TESSERA_STORE=sqlite:" + db}
	if _, e, code := tessera(t, filepath.Join(dir, "secrets"), "", env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", e)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatal(err)
	}
	if _, e, code := tessera(t, filepath.Join(dir, "secrets"), pw+"\n", env, "user", "add", "ann", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s", e)
	}
}
