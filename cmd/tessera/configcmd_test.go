package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestConfigShow: TESSERA_CONFIG names the file; config show prints every
// setting with where its value came from, and no secret.
func TestConfigShow(t *testing.T) {
	data := t.TempDir()
	file := filepath.Join(t.TempDir(), "tessera.yaml")
	os.WriteFile(file, []byte("log_level: debug\npolicy:\n  session:\n    idle_timeout: 45m\n"), 0o600)
	env := []string{
		"TESSERA_CONFIG=" + file,
		"TESSERA_POLICY_SESSION_MAX_PER_USER=3",
		"TESSERA_STORE=postgres://tessera:hunter3@db/tessera?sslmode=disable",
		"TESSERA_STORE_DIRECT=postgres://tessera:hunter2@db:5432/tessera",
		"TESSERA_ADMIN_TOKEN=tsx_secret-admin-token",
		"TESSERA_MASTER_KEY=c2VjcmV0LW1hc3Rlci1rZXktMDEyMzQ1Njc4OWFiY2RlZg==",
		"TESSERA_CLIENT_SECRET=tsc_client-secret",
	}
	out, errOut, code := tessera(t, data, "", env, "config", "show")
	if code != 0 {
		t.Fatalf("config show: exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# config file: " + file + " (from TESSERA_CONFIG)",
		`^log_level +debug +file ` + regexp.QuoteMeta(file) + `$`,
		`^policy.session.idle_timeout +45m +file`,
		`^policy.session.max_per_user +3 +env TESSERA_POLICY_SESSION_MAX_PER_USER$`,
		`^policy.session.absolute_timeout +12h +default$`,
		`^data +` + regexp.QuoteMeta(data) + ` +flag$`,
		`^store +postgres://tessera:REDACTED@db/tessera\?sslmode=disable +env TESSERA_STORE$`,
		`^store_direct +postgres://tessera:REDACTED@db:5432/tessera +env`,
		`^TESSERA_ADMIN_TOKEN +REDACTED +env$`,
		`^TESSERA_MASTER_KEY +REDACTED +env$`,
		`^TESSERA_CLIENT_SECRET +REDACTED `,
	} {
		if strings.HasPrefix(want, "#") {
			if !strings.Contains(out, want) {
				t.Errorf("config show lacks %q", want)
			}
		} else if !regexp.MustCompile("(?m)" + want).MatchString(out) {
			t.Errorf("config show lacks a line matching %s", want)
		}
	}
	for _, secret := range []string{"hunter2", "hunter3", "tsx_secret", "c2VjcmV0", "tsc_client"} {
		if strings.Contains(out+errOut, secret) {
			t.Errorf("config show prints the secret %q", secret)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	// config show opened nothing.
	if entries, _ := os.ReadDir(data); len(entries) != 0 {
		t.Errorf("config show wrote to the data folder: %v", entries)
	}
}

// TestMisspeltVariable: every command refuses a TESSERA_* variable that
// is not a setting, before it opens anything.
func TestMisspeltVariable(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	_, errOut, code := tessera(t, data, "", []string{"TESSERA_POLICY_SESSION_IDLE_TIMOUT=5m"}, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "did you mean TESSERA_POLICY_SESSION_IDLE_TIMEOUT?") {
		t.Fatalf("serve with a misspelt variable: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("the data folder was made: %v", err)
	}
}
