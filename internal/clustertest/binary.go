package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles cmd/tessera into dir and returns the binary's path. The
// caller's working folder must be inside the module (as a test's is).
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "tessera")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/tessera-auth/tessera/cmd/tessera")
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}
