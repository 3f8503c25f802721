package clustertest

import (
	"os"
	"testing"
)

// Skip skips t with a visible message naming what is missing, or fails it
// under CI=true: CI must run these tests, never pass by skipping them.
func Skip(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %v; CI=true runs these tests, never skips them", what, err)
	}
	t.Skipf("SKIP: %s: %v (CI=true fails instead)", what, err)
}
