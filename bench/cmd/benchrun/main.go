// Command benchrun measures Tessera beside bare net/http baselines in one
// run, alternating rounds so a noisy shared machine affects both alike, and
// prints throughput ratios (Tessera / baseline).
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/bench"
	"github.com/tessera-auth/tessera/password"
	"golang.org/x/crypto/argon2"
)

func main() {
	scenario := flag.String("scenario", "all", "whoami, login or all")
	sessions := flag.Int("sessions", 100000, "stored sessions for whoami")
	rounds := flag.Int("rounds", 5, "alternating rounds per scenario")
	dur := flag.Duration("duration", 3*time.Second, "length of each round")
	conns := flag.Int("conns", 32, "concurrent connections for whoami")
	flag.Parse()
	fmt.Printf("benchrun: %s, GOMAXPROCS=%d, %d rounds of %v\n", runtime.Version(), runtime.GOMAXPROCS(0), *rounds, *dur)
	ok := true
	if *scenario == "whoami" || *scenario == "all" {
		ok = whoami(*sessions, *rounds, *dur, *conns) && ok
	}
	if *scenario == "login" || *scenario == "all" {
		ok = login(*rounds, *dur) && ok
	}
	if !ok {
		os.Exit(1)
	}
}

func whoami(n, rounds int, d time.Duration, conns int) bool {
	start := time.Now()
	fmt.Printf("\nwhoami: loading %d sessions…\n", n)
	f, err := bench.NewFixture(bench.Options{Sessions: n, Users: max(1, n/10)})
	if err != nil {
		fmt.Println("fixture:", err)
		return false
	}
	defer f.Close()
	if err := f.Warm(); err != nil {
		fmt.Println("warm:", err)
		return false
	}
	fmt.Printf("  loaded in %v; %d cached, ~%.0f heap bytes per session\n", time.Since(start).Round(time.Second), f.Sessions.CacheLen(), f.HeapPerSession)
	body, _ := f.WhoamiBody()
	tess := httptest.NewServer(f.Server.Public())
	defer tess.Close()
	bare := httptest.NewServer(bench.Bare(body))
	defer bare.Close()
	urls := []string{bare.URL, tess.URL}
	ratios, base, cand, err := bench.Compare(context.Background(), rounds, func(w int) bench.Result {
		return bench.Closed(context.Background(), conns, d, func(r *rand.Rand) *http.Request {
			req, _ := http.NewRequest("GET", urls[w]+"/v1/session", nil)
			req.Header.Set("Cookie", "__Host-tessera_session="+f.Tokens[r.IntN(len(f.Tokens))])
			return req
		})
	})
	if err != nil {
		fmt.Println("whoami:", err)
		return false
	}
	report("GET /v1/session (cookie)", "bare net/http", ratios, base, cand)
	return true
}

func login(rounds int, d time.Duration) bool {
	fmt.Println("\nlogin: hashing fixture passwords at production cost…")
	f, err := bench.NewFixture(bench.Options{Users: 32, RealHashes: true})
	if err != nil {
		fmt.Println("fixture:", err)
		return false
	}
	defer f.Close()
	srv := httptest.NewServer(f.Server.Public())
	defer srv.Close()
	p := password.DefaultParams()
	workers := runtime.GOMAXPROCS(0)
	ratios, base, cand, err := bench.Compare(context.Background(), rounds, func(w int) bench.Result {
		if w == 0 {
			return rawArgon2(workers, d, p)
		}
		return bench.Closed(context.Background(), workers*2, d, func(r *rand.Rand) *http.Request {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/login", strings.NewReader(
				`{"username":"`+f.Users[r.IntN(len(f.Users))]+`","password":"`+bench.Password+`","delivery":"token"}`))
			req.Header.Set("Content-Type", "application/json")
			return req
		})
	})
	if err != nil {
		fmt.Println("login:", err)
		return false
	}
	report("POST /v1/login (argon2id m=19MiB t=2 p=1, durable)", "raw argon2id", ratios, base, cand)
	return true
}

func rawArgon2(workers int, d time.Duration, p password.Params) bench.Result {
	deadline := time.Now().Add(d)
	done := make(chan int64)
	start := time.Now()
	for range workers {
		go func() {
			var n int64
			salt := make([]byte, 16)
			for time.Now().Before(deadline) {
				argon2.IDKey([]byte(bench.Password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
				n++
			}
			done <- n
		}()
	}
	var total int64
	for range workers {
		total += <-done
	}
	return bench.Result{Requests: total, Elapsed: time.Since(start)}
}

func report(name, baseline string, ratios []float64, base, cand []bench.Result) {
	var b, c []string
	for i := range base {
		b = append(b, fmt.Sprintf("%.0f", base[i].RPS()))
		c = append(c, fmt.Sprintf("%.0f", cand[i].RPS()))
	}
	fmt.Printf("  %s\n", name)
	fmt.Printf("    %-14s %s /s per round\n", baseline+":", strings.Join(b, " "))
	fmt.Printf("    %-14s %s /s per round\n", "tessera:", strings.Join(c, " "))
	fmt.Printf("    ratio tessera/%s: median %.3f (min %.3f, max %.3f)\n", baseline, bench.Median(ratios), ratios[0], ratios[len(ratios)-1])
}
