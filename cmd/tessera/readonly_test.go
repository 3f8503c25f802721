package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadOnlyCommandsCreateNothing: a command that only reads, pointed at
// a data folder that does not exist (a typo in --data), fails and says so
// instead of creating a fresh, empty store there.
func TestReadOnlyCommandsCreateNothing(t *testing.T) {
	for _, args := range [][]string{
		{"user", "list"},
		{"session", "list"},
		{"session", "revoke", "some-id"},
		{"client", "list"},
		{"keys", "list"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "typo")
			cmd := exec.Command(binary, append(args, "--data", data)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "no database") {
				t.Fatalf("exit %v, stderr %q; want exit 1 saying there is no database", err, stderr.String())
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s created the data folder %s", args, data)
			}
		})
	}
}

// TestKeysListCreatesNoKey: listing signing keys reads the store only; it
// neither generates a master key (which a later serve would then use in
// place of the operator's TESSERA_MASTER_KEY) nor creates the first keys.
func TestKeysListCreatesNoKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "tessera-data")
	if out, err := exec.Command(binary, "migrate", "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err := exec.Command(binary, "keys", "list", "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "active") {
		t.Fatalf("keys list created keys:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "master-key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("keys list created a master key (stat: %v)", err)
	}
}

// TestAddWithoutInputCreatesNothing: a user or client that cannot be added
// for want of its password or secret on standard input leaves no data
// folder behind: the input is read before the store is opened.
func TestAddWithoutInputCreatesNothing(t *testing.T) {
	for _, args := range [][]string{
		{"user", "add", "dan", "--password-stdin"},
		{"client", "add", "billing", "--secret-stdin"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "tessera-data")
			cmd := exec.Command(binary, append(args, "--data", data)...)
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1\n%s", err, out)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s created the data folder %s", args, data)
			}
		})
	}
}
