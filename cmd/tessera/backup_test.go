package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestore: a backup taken while a server runs, with the newest
// writes still in the WAL, restored into an empty folder with the master
// key put in place first, serves the same users and signing keys.
func TestBackupRestore(t *testing.T) {
	data := t.TempDir()
	if _, e, code := tessera(t, data, pw+"\n", nil, "user", "add", "ann", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s", e)
	}
	r := serve(t, data)
	login(t, r, "ann")
	// Added under the running server: in its WAL, not yet in tessera.db.
	if _, e, code := tessera(t, data, pw+"\n", nil, "user", "add", "bob", "--password-stdin"); code != 0 {
		t.Fatalf("user add: %s", e)
	}
	if fi, err := os.Stat(filepath.Join(data, "tessera.db-wal")); err != nil || fi.Size() == 0 {
		t.Fatalf("no WAL: %v", err)
	}
	file := filepath.Join(t.TempDir(), "tessera.backup")
	out, e, code := tessera(t, data, "", nil, "backup", file)
	if code != 0 || !strings.Contains(e, "Not in the backup: the master key") {
		t.Fatalf("backup: %d %q %q", code, out, e)
	}
	master, err := os.ReadFile(filepath.Join(data, "master-key"))
	if err != nil {
		t.Fatal(err)
	}
	key := "TESSERA_MASTER_KEY=" + strings.TrimSpace(string(master))

	// Refusals first: over the running server's data, without the master
	// key, with another one, into a folder with other files.
	if _, e, code := tessera(t, data, "", []string{key}, "restore", file); code == 0 || !strings.Contains(e, "exists") {
		t.Fatalf("restore over a running server: %d %s", code, e)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if _, e, code := tessera(t, restored, "", nil, "restore", file); code == 0 || !strings.Contains(e, "master key") {
		t.Fatalf("restore without the master key: %d %s", code, e)
	}
	notExist(t, restored)
	other := "TESSERA_MASTER_KEY=" + strings.Repeat("A", 43)
	if _, e, code := tessera(t, restored, "", []string{other}, "restore", file); code == 0 || !strings.Contains(e, "master key") {
		t.Fatalf("restore with another master key: %d %s", code, e)
	}
	notExist(t, restored)
	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "notes.txt"), []byte("x"), 0o600)
	if _, e, code := tessera(t, busy, "", []string{key}, "restore", file); code == 0 || !strings.Contains(e, "not empty") {
		t.Fatalf("restore into a folder with other files: %d %s", code, e)
	}

	if out, e, code := tessera(t, restored, "", []string{key}, "restore", file); code != 0 || !strings.Contains(out, "opens its 2 signing keys") {
		t.Fatalf("restore: %d %q %q", code, out, e)
	}
	out, _, _ = tessera(t, restored, "", []string{key}, "user", "list")
	if !strings.Contains(out, "ann") || !strings.Contains(out, "bob") {
		t.Fatalf("users after restore:\n%s", out)
	}
	r2 := serve(t, restored, key)
	login(t, r2, "bob")
	_, j1 := get(t, r.public+"/.well-known/jwks.json")
	_, j2 := get(t, r2.public+"/.well-known/jwks.json")
	if len(j1["keys"].([]any)) != 2 || j1["keys"].([]any)[0].(map[string]any)["kid"] != j2["keys"].([]any)[0].(map[string]any)["kid"] {
		t.Fatalf("signing keys differ after restore: %v vs %v", j1, j2)
	}
}

// TestBackupPostgresGuidance: for a PostgreSQL store backup prints how to
// use pg_dump and writes nothing.
func TestBackupPostgresGuidance(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.backup")
	out, e, code := tessera(t, t.TempDir(), "", []string{"TESSERA_STORE=postgres://127.0.0.1:1/none"}, "backup", file)
	if code == 0 || !strings.Contains(out, "pg_dump") || !strings.Contains(e, "pg_dump") {
		t.Fatalf("backup of postgres: %d %q %q", code, out, e)
	}
	notExist(t, file)
}
