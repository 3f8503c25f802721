package main

import (
	"strings"
	"testing"
)

// TestAlertsListBadFlags: a malformed filter is a usage error (exit 2)
// with a message naming the flag, found before the store is opened; never
// a store error, nor a filter that silently matches nothing.
func TestAlertsListBadFlags(t *testing.T) {
	data := t.TempDir()
	tessera(t, data, pw+"\n", nil, "user", "add", "mia", "--password-stdin")
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--limit", []string{"--limit", "0"}},
		{"--limit", []string{"--limit", "10001"}},
		{"--severity", []string{"--severity", "urgent"}},
		{"--action", []string{"--action", "explode"}},
		{"--since", []string{"--since", "yesterday"}},
		{"--until", []string{"--until", "2026-13-01T00:00:00Z"}},
		{"--session", []string{"--session", strings.Repeat("s", 300)}},
		{"--rule", []string{"--rule", "\xff"}},
	} {
		_, e, code := tessera(t, data, "", nil, append([]string{"alerts", "list"}, c.args...)...)
		if code != 2 || !strings.Contains(e, c.flag) {
			t.Errorf("alerts list %q: exit %d, stderr %q; want 2 naming %s", c.args, code, e, c.flag)
		}
	}
}
