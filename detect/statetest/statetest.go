// Package statetest is the conformance suite of detect.State: every
// implementation (in memory, Redis, the store) runs it, through two
// handles on one state as two nodes of a cluster hold them.
//
// Time is the at argument only: the suite never sleeps, so an
// implementation must decide expiry by at, and may use real time only to
// collect garbage (a Redis TTL, a cleanup job) no sooner than at would.
package statetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/detect"
)

// Open returns two handles on one fresh state: two nodes' clients of one
// Redis or one store, or the same value twice for a process's own state.
// Keys the suite uses start with t.Name(), so handles may share a backend
// with other tests.
type Open func(t *testing.T) (a, b detect.State)

// Base is the suite's time zero. Offsets from it are whole microseconds,
// the coarsest resolution an implementation may keep.
var Base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs the suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b detect.State)
	}{
		{"ObserveWindow", testObserveWindow},
		{"ObserveAtExactly", testObserveAtExactly},
		{"ObserveForgets", testObserveForgets},
		{"ObserveMax", testObserveMax},
		{"ObserveClockBehind", testObserveClockBehind},
		{"ObserveConcurrent", testObserveConcurrent},
		{"ObserveManyMembers", testObserveManyMembers},
		{"Count", testCount},
		{"CountConcurrent", testCountConcurrent},
		{"Once", testOnce},
		{"OnceConcurrent", testOnceConcurrent},
		{"KeysIndependent", testKeysIndependent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := open(t)
			tt.fn(t, a, b)
		})
	}
}

var ctx = context.Background()

func at(d time.Duration) time.Time { return Base.Add(d) }

func key(t *testing.T, name string) string { return t.Name() + "/" + name }

// seen is a Seen as the suite writes it: offsets from Base.
type seen struct {
	member      string
	first, last time.Duration
}

func (s seen) String() string { return fmt.Sprintf("%s[%v..%v]", s.member, s.first, s.last) }

func observe(t *testing.T, s detect.State, k, member string, d, window time.Duration, max int) []seen {
	t.Helper()
	got, err := s.Observe(ctx, k, member, at(d), window, max)
	if err != nil {
		t.Fatalf("Observe(%s, %s, +%v): %v", k, member, d, err)
	}
	out := make([]seen, len(got))
	for i, g := range got {
		out[i] = seen{g.Member, g.First.Sub(Base), g.Last.Sub(Base)}
	}
	return out
}

func wantSeen(t *testing.T, what string, got []seen, want ...seen) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v (most recently seen first)", what, got, want)
	}
}

func members(s []seen) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = v.member
	}
	return out
}

// testObserveWindow: a member's first and last sighting across both
// handles, most recently seen first.
func testObserveWindow(t *testing.T, a, b detect.State) {
	k, w := key(t, "k"), 10*time.Minute
	wantSeen(t, "first observation", observe(t, a, k, "net-a", 0, w, 10), seen{"net-a", 0, 0})
	wantSeen(t, "second member, other node", observe(t, b, k, "net-b", time.Minute, w, 10),
		seen{"net-b", time.Minute, time.Minute}, seen{"net-a", 0, 0})
	wantSeen(t, "first member again", observe(t, a, k, "net-a", 2*time.Minute, w, 10),
		seen{"net-a", 0, 2 * time.Minute}, seen{"net-b", time.Minute, time.Minute})
	wantSeen(t, "same member, same time", observe(t, b, k, "net-a", 2*time.Minute, w, 10),
		seen{"net-a", 0, 2 * time.Minute}, seen{"net-b", time.Minute, time.Minute})
}

// testObserveAtExactly: a member first seen by a call comes back with
// First and Last equal to its at, to the nanosecond, whatever resolution
// the state keeps (rules tell a newcomer by First == at).
func testObserveAtExactly(t *testing.T, a, b detect.State) {
	k, w := key(t, "k"), time.Hour
	t1 := Base.Add(time.Second + 123456789)
	got, err := a.Observe(ctx, k, "x", t1, w, 8)
	if err != nil || len(got) != 1 || !got[0].First.Equal(t1) || !got[0].Last.Equal(t1) {
		t.Fatalf("Observe at %v = %v, %v; want x first and last seen at exactly that time", t1, got, err)
	}
	t2 := t1.Add(time.Minute + 987)
	got, err = b.Observe(ctx, k, "y", t2, w, 8)
	if err != nil || len(got) != 2 || got[0].Member != "y" || !got[0].First.Equal(t2) || !got[0].Last.Equal(t2) {
		t.Fatalf("Observe at %v = %v, %v; want y first and last seen at exactly that time", t2, got, err)
	}
}

// testObserveForgets: members last seen before at−window are forgotten
// (one seen exactly at at−window is not); a forgotten member seen again
// starts afresh; a member kept seen keeps its first sighting.
func testObserveForgets(t *testing.T, a, b detect.State) {
	k, w := key(t, "k"), 10*time.Minute
	observe(t, a, k, "old", 0, w, 10)
	observe(t, b, k, "kept", time.Minute, w, 10)
	wantSeen(t, "exactly one window later", observe(t, a, k, "new", w, w, 10),
		seen{"new", w, w}, seen{"kept", time.Minute, time.Minute}, seen{"old", 0, 0})
	wantSeen(t, "one microsecond past the window", observe(t, b, k, "new", w+time.Microsecond, w, 10),
		seen{"new", w, w + time.Microsecond}, seen{"kept", time.Minute, time.Minute})
	wantSeen(t, "kept seen", observe(t, a, k, "kept", w+30*time.Second, w, 10),
		seen{"kept", time.Minute, w + 30*time.Second}, seen{"new", w, w + time.Microsecond})
	wantSeen(t, "kept seen, past its first window", observe(t, b, k, "kept", 2*w, w, 10),
		seen{"kept", time.Minute, 2 * w}, seen{"new", w, w + time.Microsecond})
	wantSeen(t, "forgotten and seen again", observe(t, a, k, "old", 2*w+time.Second, w, 10),
		seen{"old", 2*w + time.Second, 2*w + time.Second}, seen{"kept", time.Minute, 2 * w})
	wantSeen(t, "after a long silence", observe(t, b, k, "kept", 100*w, w, 10),
		seen{"kept", 100 * w, 100 * w})
}

// testObserveMax: at most max members come back, the most recently seen,
// whether or not an implementation keeps the others (a key is always
// observed with one max).
func testObserveMax(t *testing.T, a, b detect.State) {
	k, w := key(t, "k"), time.Hour
	for i := range 20 {
		got := observe(t, []detect.State{a, b}[i%2], k, fmt.Sprintf("m%02d", i), time.Duration(i)*time.Second, w, 5)
		if len(got) != min(i+1, 5) {
			t.Fatalf("observation %d returned %d members, want %d: %v", i, len(got), min(i+1, 5), got)
		}
	}
	got := observe(t, a, k, "m03", 30*time.Second, w, 5)
	if want := []string{"m03", "m19", "m18", "m17", "m16"}; !slices.Equal(members(got), want) {
		t.Fatalf("got %v, want %v", members(got), want)
	}
	if got[0].last != 30*time.Second || got[1].last != 19*time.Second {
		t.Fatalf("last sightings wrong: %v", got)
	}
}

// testObserveClockBehind: a node whose clock is behind the last writer's
// does not move a member's last sighting back.
func testObserveClockBehind(t *testing.T, a, b detect.State) {
	k, w := key(t, "k"), 10*time.Minute
	observe(t, a, k, "x", 10*time.Second, w, 10)
	observe(t, a, k, "y", 8*time.Second, w, 10)
	got := observe(t, b, k, "x", 5*time.Second, w, 10)
	if !slices.Equal(members(got), []string{"x", "y"}) || got[0].last != 10*time.Second {
		t.Fatalf("after an observation from a clock behind: %v, want x last seen at 10s, then y", got)
	}
}

// testObserveConcurrent: observations racing on both handles are all
// kept.
func testObserveConcurrent(t *testing.T, a, b detect.State) {
	k, w := key(t, "k"), time.Hour
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []detect.State{a, b}[i%2]
			if _, err := s.Observe(ctx, k, fmt.Sprintf("m%02d", i), at(time.Duration(i)*time.Millisecond), w, 100); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := observe(t, a, k, "last", time.Second, w, 100)
	if len(got) != n+1 || got[0].member != "last" || got[1].member != fmt.Sprintf("m%02d", n-1) {
		t.Fatalf("after %d racing observations: %d members %v, want %d", n, len(got), got, n+1)
	}
}

// testObserveManyMembers: a key observed with many members answers with
// max of them, and long members come back whole.
func testObserveManyMembers(t *testing.T, a, b detect.State) {
	k, w := key(t, "k"), time.Hour
	const n, max = 150, 8
	long := strings.Repeat("x", 400)
	for i := range n {
		got := observe(t, []detect.State{a, b}[i%2], k, fmt.Sprintf("%s%04d", long, i), time.Duration(i)*time.Millisecond, w, max)
		if len(got) > max {
			t.Fatalf("observation %d: %d members, more than max %d", i, len(got), max)
		}
	}
	got := observe(t, b, k, long+"last", time.Second, w, max)
	if len(got) != max || got[1].member != fmt.Sprintf("%s%04d", long, n-1) || got[0].member != long+"last" {
		t.Fatalf("got %d members (%v), want the %d most recent", len(got), members(got), max)
	}
}

func count(t *testing.T, s detect.State, k string, d, window time.Duration) int64 {
	t.Helper()
	n, err := s.Count(ctx, k, at(d), window)
	if err != nil {
		t.Fatalf("Count(%s, +%v): %v", k, d, err)
	}
	return n
}

// testCount: a count over both handles includes every event less than
// nine tenths of the window old and none more than eleven tenths old: a
// bucketed count may be off by a bucket of at most a tenth of the window
// at its old end (detect.CountBucket's buckets only ever miss some;
// others may count some too many).
func testCount(t *testing.T, a, b detect.State) {
	k, w := key(t, "k"), 10*time.Minute
	for i, d := range []time.Duration{0, time.Minute, 2 * time.Minute} {
		if n := count(t, []detect.State{a, b}[i%2], k, d, w); n != int64(i+1) {
			t.Fatalf("count %d at +%v = %d, want %d", i, d, n, i+1)
		}
	}
	if n := count(t, b, k, 9*time.Minute, w); n != 4 {
		t.Fatalf("at +9m (the first event nine tenths of the window old) = %d, want 4", n)
	}
	// The event at 0 is past the window and its tenth; those at 1m and 2m
	// are 10m+1µs and 9m+1µs old, which a bucketed count may count or
	// not; those at 9m and 11m+1µs count.
	if n := count(t, a, k, 11*time.Minute+time.Microsecond, w); n < 2 || n > 4 {
		t.Fatalf("at +11m = %d, want 3 (2 to 4, bucketed)", n)
	}
	if n := count(t, a, k, 15*time.Minute, w); n != 3 {
		t.Fatalf("at +15m = %d, want 3 (9m, 11m, 15m)", n)
	}
	if n := count(t, b, k, 100*w, w); n != 1 {
		t.Fatalf("after a long silence = %d, want 1", n)
	}
}

// testCountConcurrent: counts racing on both handles at one instant each
// see a different total: every increment is atomic.
func testCountConcurrent(t *testing.T, a, b detect.State) {
	k, w := key(t, "k"), time.Minute
	const n = 40
	got := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := []detect.State{a, b}[i%2].Count(ctx, k, at(0), w)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("racing counts returned %v, want each of 1..%d once", got, n)
		}
	}
}

func once(t *testing.T, s detect.State, k string, d, ttl time.Duration) bool {
	t.Helper()
	ok, err := s.Once(ctx, k, at(d), ttl)
	if err != nil {
		t.Fatalf("Once(%s, +%v): %v", k, d, err)
	}
	return ok
}

// testOnce: a claim holds on every node for ttl from when it was made;
// asking again while it holds does not extend it.
func testOnce(t *testing.T, a, b detect.State) {
	k, ttl := key(t, "k"), time.Hour
	if !once(t, a, k, 0, ttl) {
		t.Fatal("first claim refused")
	}
	for _, c := range []struct {
		s detect.State
		d time.Duration
	}{{a, 0}, {b, 0}, {b, time.Minute}, {a, ttl / 2}, {b, ttl - time.Microsecond}} {
		if once(t, c.s, k, c.d, ttl) {
			t.Fatalf("claimed again at +%v, within the ttl of the first claim", c.d)
		}
	}
	if !once(t, b, k, ttl, ttl) {
		t.Fatal("not claimable once the first claim's ttl has passed (asking while it held must not extend it)")
	}
	if once(t, a, k, ttl+time.Second, ttl) {
		t.Fatal("the second claim does not hold")
	}
	if !once(t, a, k, 10*ttl, ttl) {
		t.Fatal("not claimable after a long silence")
	}
}

// testOnceConcurrent: of claims racing on both handles, exactly one wins,
// and again once the claim has expired.
func testOnceConcurrent(t *testing.T, a, b detect.State) {
	k, ttl := key(t, "k"), time.Minute
	for round, d := range []time.Duration{0, ttl} {
		const n = 30
		var won sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range n {
			won.Add(1)
			go func() {
				defer won.Done()
				ok, err := []detect.State{a, b}[i%2].Once(ctx, k, at(d), ttl)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		won.Wait()
		if wins != 1 {
			t.Fatalf("round %d: %d of %d racing claims won, want exactly 1", round, wins, n)
		}
	}
}

// testKeysIndependent: what happens under one key changes nothing under
// another.
func testKeysIndependent(t *testing.T, a, b detect.State) {
	k1, k2, w := key(t, "one"), key(t, "two"), time.Hour
	observe(t, a, k1, "x", 0, w, 10)
	wantSeen(t, "another key", observe(t, b, k2, "y", time.Second, w, 10), seen{"y", time.Second, time.Second})
	count(t, a, k1, 0, w)
	count(t, a, k1, 0, w)
	if n := count(t, b, k2, time.Second, w); n != 1 {
		t.Fatalf("count under another key = %d, want 1", n)
	}
	once(t, a, k1, 0, w)
	if !once(t, b, k2, 0, w) {
		t.Fatal("a claim under one key holds another")
	}
}

// Bench measures s's operations as rules use them: Observe (a session's
// networks: 1000 keys, 3 members each, max 8), Count (1000 keys) and Once
// (a new incident per call), each from 8 goroutines at once (throughput)
// and from one (what a node's one detection worker gets: latency). Each
// reports ops/s; at advances a microsecond per call.
func Bench(b *testing.B, s detect.State) {
	var clock sync.Mutex
	var tick time.Duration
	now := func() (time.Time, int) {
		clock.Lock()
		defer clock.Unlock()
		tick += time.Microsecond
		return at(tick), int(tick / time.Microsecond)
	}
	run := func(name string, op func(t time.Time, i int) error) {
		b.Run(name, func(b *testing.B) {
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					t, i := now()
					if err := op(t, i); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run(name+"Serial", func(b *testing.B) {
			for range b.N {
				t, i := now()
				if err := op(t, i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
	run("Observe", func(t time.Time, i int) error {
		_, err := s.Observe(ctx, fmt.Sprintf("bench/session_networks:%d", i%1000), fmt.Sprintf("net-%d", i%3), t, time.Hour, 8)
		return err
	})
	run("Count", func(t time.Time, i int) error {
		_, err := s.Count(ctx, fmt.Sprintf("bench/user_sessions:%d", i%1000), t, 10*time.Minute)
		return err
	})
	run("Once", func(t time.Time, i int) error {
		_, err := s.Once(ctx, fmt.Sprintf("bench/alert:%d", i), t, time.Hour)
		return err
	})
}
