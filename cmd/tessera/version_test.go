package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionLinkTimeOverrides: a release built as docs/operations.md
// says (-ldflags -X, which works under -buildvcs=false too) names its
// version, commit and date.
func TestVersionLinkTimeOverrides(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tessera")
	const pkg = "github.com/tessera-auth/tessera/internal/buildinfo"
	ldflags := "-X " + pkg + ".version=v1.2.3 -X " + pkg + ".revision=0123abcd -X " + pkg + ".date=2026-12-01T09:00:00Z"
	if out, err := exec.Command("go", "build", "-buildvcs=false", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tessera v1.2.3\n", "commit  0123abcd\n", "date    2026-12-01T09:00:00Z\n", "go      go1."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("tessera version lacks %q:\n%s", want, out)
		}
	}
}
