package main

import (
	"net/url"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/store/postgres/pgtest"
)

// TestCLIOnPostgres: the verbs and serve work on a PostgreSQL store named
// by --store (or TESSERA_STORE), in a schema of its own. Without a
// reachable server this skips, and fails under CI=true (pgtest).
func TestCLIOnPostgres(t *testing.T) {
	u := pgtest.URL(t)
	data := filepath.Join(t.TempDir(), "tessera-data") // the master key's home
	run := func(stdin string, code int, want string, args ...string) string {
		t.Helper()
		out, errOut, got := tessera(t, data, stdin, nil, append(args, "--store", u)...)
		if got != code || !strings.Contains(out+errOut, want) {
			t.Fatalf("%q: exit %d (want %d, output with %q)\nstdout: %s\nstderr: %s", args, got, code, want, out, errOut)
		}
		return out
	}
	// An empty database is not a store yet: a read-only verb says what to do.
	run("", 1, "tessera migrate", "user", "list")
	run("", 0, "schema at version ", "migrate")
	run(pw+"\n", 0, "", "user", "add", "dan", "--password-stdin")
	if out := run("", 0, "dan", "user", "list"); strings.Contains(out, "eve") {
		t.Fatalf("user list: %s", out)
	}
	run("", 0, "schema at version ", "migrate") // nothing left to apply

	// A database that does not exist: said so, without the URL's password
	// (trust authentication ignores it).
	missing, _ := url.Parse(u)
	missing.Path = "/tessera_no_such_database"
	name := missing.User.Username()
	if name == "" {
		me, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		name = me.Username
	}
	missing.User = url.UserPassword(name, "sekrit-password")
	out, errOut, code := tessera(t, data, "", nil, "user", "list", "--store", missing.String())
	if code != 1 || !strings.Contains(errOut, "no Tessera data in postgres://"+name+":xxxxx@") || strings.Contains(out+errOut, "sekrit") {
		t.Fatalf("missing database: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	// A shared store refuses to start without the cluster's issuer.
	_, errOut, code = tessera(t, data, "", nil, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--store", u)
	if code != 1 || !strings.Contains(errOut, "policy.tokens.issuer") {
		t.Fatalf("serve on PostgreSQL without an issuer: exit %d\nstderr: %s", code, errOut)
	}
	r := serve(t, data, "TESSERA_STORE="+u, "TESSERA_POLICY_TOKENS_ISSUER=https://auth.cli.test")
	if !strings.Contains(r.banner, "https://auth.cli.test") || !strings.Contains(r.banner, "LISTEN/NOTIFY") {
		t.Fatalf("banner does not name the issuer and the fan-out:\n%s", r.banner)
	}
	// Another node configured without an issuer adopts the cluster's.
	if r2 := serve(t, data, "TESSERA_STORE="+u); !strings.Contains(r2.banner, "https://auth.cli.test") {
		t.Fatalf("second node's banner:\n%s", r2.banner)
	}
	tok, _ := login(t, r, "dan")
	if code := whoami(t, r, tok); code != 200 {
		t.Fatalf("whoami on PostgreSQL: %d", code)
	}
}
