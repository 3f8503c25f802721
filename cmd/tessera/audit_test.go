package main

import (
	"database/sql"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	_ "modernc.org/sqlite"
)

// TestAuditCLI: a server's and the command line's actions land in the
// audit log; `audit verify` passes, `audit export` writes JSON lines with
// no credential in them; after a record is edited in the database, verify
// exits 1 and names it.
func TestAuditCLI(t *testing.T) {
	data := t.TempDir()
	tessera(t, data, pw+"\n", nil, "user", "add", "mia", "--password-stdin")
	r := serve(t, data)
	tok, id := login(t, r, "mia")
	if whoami(t, r, tok) != 200 {
		t.Fatal("whoami")
	}
	r.cmd.Process.Signal(syscall.SIGTERM) // the writer drains its queue
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, e, code := tessera(t, data, "", nil, "session", "revoke", id); code != 0 {
		t.Fatalf("session revoke: %d %s", code, e)
	}
	out, e, code := tessera(t, data, "", nil, "audit", "verify")
	if code != 0 || !strings.Contains(out, "first failure: none") || !strings.Contains(out, "records checked: ") {
		t.Fatalf("verify: %d %s %s", code, out, e)
	}
	out, e, code = tessera(t, data, "", nil, "audit", "export")
	if code != 0 {
		t.Fatalf("export: %d %s", code, e)
	}
	for _, want := range []string{`"event":"login_succeeded"`, `"event":"session_validated"`, `"event":"admin_action","actor":"cli"`, `"session_id":"` + id + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %s:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`ts[sramcx]_[A-Za-z0-9]|eyJ[A-Za-z0-9_-]+\.`).MatchString(out) || strings.Contains(out, tok) || strings.Contains(out, pw) {
		t.Fatalf("a credential in the export:\n%s", out)
	}
	one, _, _ := tessera(t, data, "", nil, "audit", "export", "--event", "admin_action")
	if n := strings.Count(one, "\n"); n != 1 {
		t.Fatalf("export --event admin_action: %d lines:\n%s", n, one)
	}

	db, err := sql.Open("sqlite", filepath.Join(data, "tessera.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE audit_records SET ip = '203.0.113.1' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, _, code = tessera(t, data, "", nil, "audit", "verify")
	if code != 1 || !strings.Contains(out, "first failure: record 2") {
		t.Fatalf("verify after an edit: %d %s", code, out)
	}
}
