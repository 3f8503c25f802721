package main

import (
	"strings"
	"testing"
)

// TestCLIEmitsEvents: admin verbs publish domain events like the admin API
// does; the CLI's sink logs them to stderr.
func TestCLIEmitsEvents(t *testing.T) {
	data := t.TempDir()
	steps := []struct {
		args  []string
		stdin string
		want  []string
	}{
		{[]string{"user", "add", "fay", "--password-stdin"}, pw + "\n", []string{`"event":"admin_action"`, `"actor":"cli"`, `"action":"user_create"`}},
		{[]string{"keys", "rotate"}, "", []string{`"event":"key_rotated"`, `"action":"key_rotate"`}},
		{[]string{"client", "add", "svc"}, "", []string{`"action":"client_register"`}},
		{[]string{"session", "revoke", "--user", "fay"}, "", []string{`"action":"user_sessions_revoke"`}},
	}
	for _, s := range steps {
		_, errOut, code := tessera(t, data, s.stdin, nil, s.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", s.args, code, errOut)
		}
		for _, w := range s.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: stderr lacks %s:\n%s", s.args, w, errOut)
			}
		}
		if strings.Contains(errOut, pw) || strings.Contains(errOut, "tsc_") {
			t.Fatalf("%v: a secret reached the log: %s", s.args, errOut)
		}
	}
}
