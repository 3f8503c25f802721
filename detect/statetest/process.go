package statetest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/detect"
)

// childEnv names the test a re-executed test binary runs as the second
// process.
const childEnv = "TESSERA_STATETEST_CHILD"

// IsChild reports whether this process is the second process of
// AcrossProcesses: the test must then open the state the parent names in
// the environment instead of making a new one.
func IsChild() bool { return os.Getenv(childEnv) != "" }

// AcrossProcesses checks that two operating-system processes share one
// state, as two nodes do: a session used from one network in this
// process and another in the second is seen with both networks in each,
// and of claims racing in both processes (racers goroutines each) exactly
// one wins. The second process is this test binary run again for t alone,
// with env added to its environment (how it finds the same state); in it,
// AcrossProcesses plays the second node's part. open returns a handle on
// the state.
func AcrossProcesses(t *testing.T, env []string, open func(t *testing.T) detect.State) {
	const racers = 20
	key, w := t.Name()+"/session_networks", time.Hour
	claim := t.Name() + "/alert"
	s := open(t)
	if IsChild() {
		child(t, s, key, claim, w, racers)
		return
	}
	observe(t, s, key, "net-1", 0, w, 8)

	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), env...), childEnv+"="+t.Name())
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	next := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			if v, ok := strings.CutPrefix(lines.Text(), prefix); ok {
				return v
			}
		}
		t.Fatalf("the second process ended without %q: %v\n%s", prefix, lines.Err(), stderr.String())
		return ""
	}
	if got := next("STATETEST seen "); got != "net-2 net-1" {
		t.Fatalf("the second process saw %q, want net-2 net-1 (its network and this process's)", got)
	}
	wantSeen(t, "after the second process", observe(t, s, key, "net-3", 2*time.Minute, w, 8),
		seen{"net-3", 2 * time.Minute, 2 * time.Minute}, seen{"net-2", time.Minute, time.Minute}, seen{"net-1", 0, 0})

	next("STATETEST ready")
	var wins atomic.Int64
	var wg sync.WaitGroup
	fmt.Fprintln(in, "go")
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.Once(ctx, claim, at(3*time.Minute), w); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	theirs, err := strconv.Atoi(next("STATETEST wins "))
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("second process: %v\n%s", err, stderr.String())
	}
	if total := int(wins.Load()) + theirs; total != 1 {
		t.Fatalf("claims racing in two processes: %d won here, %d there; want exactly 1 in all", wins.Load(), theirs)
	}
}

// child is the second process's part.
func child(t *testing.T, s detect.State, key, claim string, w time.Duration, racers int) {
	got := observe(t, s, key, "net-2", time.Minute, w, 8)
	fmt.Printf("STATETEST seen %s\n", strings.Join(members(got), " "))
	fmt.Println("STATETEST ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := s.Once(ctx, claim, at(3*time.Minute), w); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("STATETEST wins %d\n", wins.Load())
}
