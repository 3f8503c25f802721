package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const buildinfoPkg = "github.com/tessera-auth/tessera/internal/buildinfo"

// TestVersionLinkTimeOverrides: a release named with -ldflags -X (which
// works under -buildvcs=false, .ci/run's GOFLAGS, too) says its version,
// commit and date.
func TestVersionLinkTimeOverrides(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tessera")
	ldflags := "-X " + buildinfoPkg + ".version=v1.2.3 -X " + buildinfoPkg + ".revision=0123abcd -X " + buildinfoPkg + ".date=2026-12-01T09:00:00Z"
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

// TestNoCgoDependency: the Dockerfile builds with CGO_ENABLED=0 for a
// static binary on distroless/static; only standard packages with pure-Go
// fallbacks may use cgo (listing packages compiles nothing).
func TestNoCgoDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if .CgoFiles}}{{.ImportPath}} {{.Standard}}{{end}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if path, std, _ := strings.Cut(l, " "); std == "false" {
			t.Errorf("%s needs cgo: the static build (Dockerfile, CGO_ENABLED=0) would fail or lose it", path)
		}
	}
}

// TestStaticBuild builds exactly as the Dockerfile does and checks that
// the binary has no dynamic loader. It compiles every dependency again
// (CGO_ENABLED=0, -trimpath: minutes on a cold cache), so it runs only
// when TESSERA_TEST_STATIC_BUILD=1.
func TestStaticBuild(t *testing.T) {
	if os.Getenv("TESSERA_TEST_STATIC_BUILD") != "1" {
		t.Skip("set TESSERA_TEST_STATIC_BUILD=1 to build as the Dockerfile does (minutes on a cold cache)")
	}
	bin := filepath.Join(t.TempDir(), "tessera")
	ldflags := "-s -w -X " + buildinfoPkg + ".version=v1.2.3"
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("the binary is dynamically linked (%v): it will not run on distroless/static", p.Type)
		}
	}
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "tessera v1.2.3\n") {
		t.Fatalf("version: %q %v", out, err)
	}
}
