package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one load run.
type Result struct {
	Requests int64
	Failures int64
	Elapsed  time.Duration
	// CPU is the CPU time the whole process (load generator and server)
	// used during the run; 0 if not measured.
	CPU time.Duration
}

// RPS is completed requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// CPUPerRequest is the process CPU time per completed request (0 if not
// measured). Unlike RPS it hardly moves when other processes take the
// machine's cores; it counts the load generator's work too.
func (r Result) CPUPerRequest() time.Duration {
	if r.CPU <= 0 || r.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Requests)
}

// NewRequest builds one request; r is the worker's own random source.
type NewRequest func(r *rand.Rand) *http.Request

// Closed runs conns workers, each sending its next request when the last
// answered, for d, on a fresh client. Closed-loop load measures
// throughput; latency percentiles from it would be skewed, so none are
// reported.
func Closed(ctx context.Context, conns int, d time.Duration, mk NewRequest) Result {
	client := NewClient(conns)
	defer client.CloseIdleConnections()
	return ClosedOn(ctx, client, conns, d, mk)
}

// NewClient is a load generator's HTTP client for conns connections.
func NewClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}}
}

// ClosedOn is Closed on a client the caller keeps, so its connections stay
// open from one run to the next. Workers stop sending at d and the run ends
// when the last answer is in: no request is cut off, none is counted half.
func ClosedOn(ctx context.Context, client *http.Client, conns int, d time.Duration, mk NewRequest) Result {
	var n, fails atomic.Int64
	var wg sync.WaitGroup
	start, cpu := time.Now(), processCPU()
	deadline := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for ctx.Err() == nil && time.Now().Before(deadline) {
				res, err := client.Do(mk(r).WithContext(ctx))
				if err != nil {
					if ctx.Err() == nil {
						fails.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode >= 300 {
					fails.Add(1)
					continue
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return Result{Requests: n.Load(), Failures: fails.Load(), Elapsed: time.Since(start), CPU: processCPU() - cpu}
}

// CompareInterleaved is Compare with every round cut into slices of at
// most slice per side: baseline and candidate take turns slice by slice
// (the first turn alternating from round to round), so a shared machine's
// load that changes within a round still falls on both alike. run(which,
// d) runs one side for d; a round's result per side is the sum of its
// slices (d in all).
func CompareInterleaved(ctx context.Context, rounds int, d, slice time.Duration, run func(which int, d time.Duration) Result) (ratios []float64, base, cand []Result, err error) {
	n := max(1, int((d+slice-1)/slice))
	part := d / time.Duration(n)
	for i := range rounds {
		var res [2]Result
		for j := range n {
			order := []int{0, 1}
			if (i+j)%2 == 1 {
				order = []int{1, 0}
			}
			for _, w := range order {
				r := run(w, part)
				if r.Failures > 0 {
					return nil, nil, nil, fmt.Errorf("round %d: %d failed requests", i, r.Failures)
				}
				res[w].Requests += r.Requests
				res[w].Elapsed += r.Elapsed
				res[w].CPU += r.CPU
			}
		}
		base, cand = append(base, res[0]), append(cand, res[1])
		ratios = append(ratios, res[1].RPS()/res[0].RPS())
	}
	sort.Float64s(ratios)
	return ratios, base, cand, nil
}

// Compare runs baseline and candidate in alternating rounds (so drift in a
// shared machine's load hits both alike) and returns the per-round
// throughput ratios candidate/baseline, sorted.
func Compare(ctx context.Context, rounds int, run func(which int) Result) (ratios []float64, base, cand []Result, err error) {
	for i := range rounds {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		var res [2]Result
		for _, w := range order {
			res[w] = run(w)
			if res[w].Failures > 0 {
				return nil, nil, nil, fmt.Errorf("round %d: %d failed requests", i, res[w].Failures)
			}
		}
		base, cand = append(base, res[0]), append(cand, res[1])
		ratios = append(ratios, res[1].RPS()/res[0].RPS())
	}
	sort.Float64s(ratios)
	return ratios, base, cand, nil
}

// Median of sorted values.
func Median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// Do sends one request with client; a worker's Do runs sequentially.
type Do func(client *http.Client) error

// ClosedWith is Closed for stateful workers (each gets its own Do, made
// by mk(worker index)), such as a refresh-token chain per worker.
func ClosedWith(ctx context.Context, conns int, d time.Duration, mk func(worker int) Do) Result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n, fails atomic.Int64
	var wg sync.WaitGroup
	start, cpu := time.Now(), processCPU()
	for i := range conns {
		wg.Add(1)
		do := mk(i)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := do(client); err != nil {
					if ctx.Err() == nil {
						fails.Add(1)
					}
					continue
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return Result{Requests: n.Load(), Failures: fails.Load(), Elapsed: time.Since(start), CPU: processCPU() - cpu}
}

// Fetch sends one request and returns the body of a 200 answer.
func Fetch(req *http.Request) ([]byte, error) {
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	return b, err
}
