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
}

// RPS is completed requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// NewRequest builds one request; r is the worker's own random source.
type NewRequest func(r *rand.Rand) *http.Request

// Closed runs conns workers, each sending its next request when the last
// answered, for d. Closed-loop load measures throughput; latency
// percentiles from it would be skewed, so none are reported.
func Closed(ctx context.Context, conns int, d time.Duration, mk NewRequest) Result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n, fails atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for ctx.Err() == nil {
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
	return Result{Requests: n.Load(), Failures: fails.Load(), Elapsed: time.Since(start)}
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
	start := time.Now()
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
	return Result{Requests: n.Load(), Failures: fails.Load(), Elapsed: time.Since(start)}
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
