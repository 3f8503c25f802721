package clustertest_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/internal/clustertest"
)

var binary string

// TestMain builds the tessera binary once for every test here.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tessera-cluster-bin")
	if err != nil {
		panic(err)
	}
	binary, err = clustertest.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// settle bounds every "eventually" here. It is a liveness bound, not a
// performance claim: the default feed poll is 1 s and the machine is
// shared and noisy; the bench harness measures propagation.
const settle = 20 * time.Second

// eventually calls check until it returns nil, failing t with its last
// error after settle.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %v: %v", what, settle, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startCluster starts n nodes on a fresh schema of the test PostgreSQL
// server, logs to the test output on failure.
func startCluster(t *testing.T, store string, n int, env ...string) *clustertest.Cluster {
	t.Helper()
	c, err := clustertest.StartCluster(clustertest.ClusterConfig{Binary: binary, Dir: t.TempDir(), Nodes: n, Store: store, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.Logs())
		}
		c.Close()
	})
	return c
}
