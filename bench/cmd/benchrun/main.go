// Command benchrun measures Tessera beside bare net/http baselines in one
// run, alternating rounds so a noisy shared machine affects both alike, and
// prints throughput ratios (Tessera / baseline).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tessera-auth/tessera/bench"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/password"
	"golang.org/x/crypto/argon2"
)

func main() {
	scenario := flag.String("scenario", "all", "whoami, login, introspect, refresh, clientcredentials, forwardauth, detection, propagation, stores (needs -postgres), scale (needs -postgres) or all")
	pgURL := flag.String("postgres", "", "PostgreSQL server URL (postgres://127.0.0.1:5432/test): the stores and scale scenarios, and a schema of their own there")
	sessions := flag.Int("sessions", 100000, "stored sessions for whoami")
	rounds := flag.Int("rounds", 5, "alternating rounds per scenario")
	dur := flag.Duration("duration", 3*time.Second, "length of each round")
	conns := flag.Int("conns", 32, "concurrent connections for whoami")
	slice := flag.Duration("slice", 250*time.Millisecond, "introspect: longest turn of one side within a round")
	scaleSizes := flag.String("scale-sizes", "10000,100000,1000000", "scale: session counts")
	scaleStores := flag.String("scale-stores", "sqlite,postgres", "scale: stores to measure (postgres needs -postgres)")
	scaleSample := flag.Int("scale-sample", 2000, "scale: sessions whose whoami latency is measured")
	scaleCached := flag.Int("scale-cached", 100000, "scale: most sessions validated to measure heap per cached session")
	samples := flag.Int("samples", 40, "propagation: revocations per mode (each measured on two nodes)")
	gap := flag.Duration("gap", time.Millisecond, "propagation: pause between two probes of one node")
	jitter := flag.Duration("jitter", time.Second, "propagation: random wait before each revocation, up to this (the feed poll interval: see bench.Propagation)")
	modes := flag.String("modes", "", "propagation: only the modes named (poll, notify, redis; comma-separated); empty means all")
	flag.Parse()
	fmt.Printf("benchrun: %s, GOMAXPROCS=%d, %d rounds of %v\n", runtime.Version(), runtime.GOMAXPROCS(0), *rounds, *dur)
	ok := true
	if *scenario == "whoami" || *scenario == "all" {
		ok = whoami(*sessions, *rounds, *dur, *conns) && ok
	}
	if *scenario == "login" || *scenario == "all" {
		ok = login(*rounds, *dur) && ok
	}
	if *scenario == "introspect" || *scenario == "all" {
		ok = introspect(*rounds, *dur, *slice, *conns) && ok
	}
	if *scenario == "forwardauth" || *scenario == "all" {
		ok = forwardAuth(*sessions, *rounds, *dur, *conns) && ok
	}
	if *scenario == "detection" || *scenario == "all" {
		ok = detection(min(*sessions, 20000), *rounds, *dur, *conns) && ok
	}
	if *scenario == "refresh" || *scenario == "clientcredentials" || *scenario == "all" {
		ok = issuance(*scenario, *rounds, *dur, *conns) && ok
	}
	if *scenario == "scale" {
		var sizes []int
		for _, f := range strings.Split(*scaleSizes, ",") {
			var n int
			if _, err := fmt.Sscan(f, &n); err != nil || n <= 0 {
				fmt.Println("scale: bad -scale-sizes")
				os.Exit(2)
			}
			sizes = append(sizes, n)
		}
		ok = scale(*pgURL, strings.Split(*scaleStores, ","), sizes, *scaleSample, *scaleCached) && ok
	}
	if *scenario == "stores" {
		if *pgURL == "" {
			fmt.Println("stores: needs -postgres URL")
			os.Exit(2)
		}
		ok = storesVs(*pgURL, *rounds, *dur, *slice, *conns) && ok
	}
	if *scenario == "propagation" || *scenario == "all" {
		ok = propagation(*rounds, *samples, *gap, *jitter, *modes) && ok
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
	reportAs(name, baseline, "tessera", ratios, base, cand)
}

// reportAs is report with the candidate named.
func reportAs(name, baseline, candidate string, ratios []float64, base, cand []bench.Result) {
	var b, c []string
	for i := range base {
		b = append(b, fmt.Sprintf("%.0f", base[i].RPS()))
		c = append(c, fmt.Sprintf("%.0f", cand[i].RPS()))
	}
	fmt.Printf("  %s\n", name)
	fmt.Printf("    %-14s %s /s per round\n", baseline+":", strings.Join(b, " "))
	fmt.Printf("    %-14s %s /s per round\n", candidate+":", strings.Join(c, " "))
	fmt.Printf("    ratio %s/%s: median %.3f (min %.3f, max %.3f)\n", candidate, baseline, bench.Median(ratios), ratios[0], ratios[len(ratios)-1])
	// The same comparison by CPU time per request (whole process: load
	// generator included), which other tenants of a shared machine hardly
	// disturb; shown beside the throughput ratio, not instead of it.
	var cb, cc []string
	var cpuRatios []float64
	for i := range base {
		b, c := base[i].CPUPerRequest(), cand[i].CPUPerRequest()
		if b <= 0 || c <= 0 {
			return
		}
		cb = append(cb, fmt.Sprintf("%.1f", b.Seconds()*1e6))
		cc = append(cc, fmt.Sprintf("%.1f", c.Seconds()*1e6))
		cpuRatios = append(cpuRatios, b.Seconds()/c.Seconds())
	}
	sort.Float64s(cpuRatios)
	fmt.Printf("    %-14s %s µs CPU/request per round\n", baseline+":", strings.Join(cb, " "))
	fmt.Printf("    %-14s %s µs CPU/request per round\n", candidate+":", strings.Join(cc, " "))
	fmt.Printf("    CPU ratio %s/%s: median %.3f (min %.3f, max %.3f)\n", baseline, candidate, bench.Median(cpuRatios), cpuRatios[0], cpuRatios[len(cpuRatios)-1])
}

// introspect compares POST /oauth2/introspect (a confidential client asking
// about a live user's JWT access token, and about a session token) with a
// bare handler answering the same bytes. Each round interleaves the two in
// slices of at most slice, so other work on a shared machine falls on both.
func introspect(rounds int, d, slice time.Duration, conns int) bool {
	fmt.Println("\nintrospect: preparing…")
	f, err := bench.NewFixture(bench.Options{Users: 1})
	if err != nil {
		fmt.Println("fixture:", err)
		return false
	}
	defer f.Close()
	srv := httptest.NewServer(f.Server.Public())
	defer srv.Close()
	c, secret, err := f.OAuth.RegisterClient(context.Background(), oauth.ClientSpec{Name: "rs", Introspect: true})
	if err != nil {
		fmt.Println(err)
		return false
	}
	at, _, err := f.LoginTokens(srv.URL, 0)
	if err != nil {
		fmt.Println(err)
		return false
	}
	sess, err := f.LoginCookie(srv.URL)
	if err != nil {
		fmt.Println(err)
		return false
	}
	ok := true
	for _, tc := range []struct{ name, tok string }{{"JWT access token", at}, {"session token", sess}} {
		body := "token=" + tc.tok
		mk := func(base string) bench.NewRequest {
			return func(*rand.Rand) *http.Request {
				req, _ := http.NewRequest("POST", base+"/oauth2/introspect", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(c.ID, secret)
				return req
			}
		}
		answer, err := bench.Fetch(mk(srv.URL)(nil))
		if err != nil || !strings.Contains(string(answer), `"active":true`) {
			fmt.Println("introspect:", err, string(answer))
			return false
		}
		bare := httptest.NewServer(bench.Bare(answer))
		urls := []string{bare.URL, srv.URL}
		// Each side keeps its connections from slice to slice.
		clients := []*http.Client{bench.NewClient(conns), bench.NewClient(conns)}
		ratios, base, cand, err := bench.CompareInterleaved(context.Background(), rounds, d, slice, func(w int, d time.Duration) bench.Result {
			return bench.ClosedOn(context.Background(), clients[w], conns, d, mk(urls[w]))
		})
		for _, c := range clients {
			c.CloseIdleConnections()
		}
		bare.Close()
		if err != nil {
			fmt.Println("introspect:", err)
			ok = false
			continue
		}
		report("POST /oauth2/introspect ("+tc.name+")", "bare net/http", ratios, base, cand)
	}
	return ok
}

// issuance measures the refresh grant (durable rotation) and the
// client_credentials grant, each beside a bare handler.
func issuance(scenario string, rounds int, d time.Duration, conns int) bool {
	fmt.Println("\nissuance: preparing…")
	// One user per refresh chain: the per-user session cap would otherwise
	// evict chains.
	f, err := bench.NewFixture(bench.Options{Users: conns})
	if err != nil {
		fmt.Println("fixture:", err)
		return false
	}
	defer f.Close()
	srv := httptest.NewServer(f.Server.Public())
	defer srv.Close()
	c, secret, _ := f.OAuth.RegisterClient(context.Background(), oauth.ClientSpec{Name: "svc", Scopes: []string{"read"}, Introspect: true})
	bare := httptest.NewServer(bench.Bare([]byte(`{"access_token":"` + strings.Repeat("x", 600) + `","token_type":"Bearer","expires_in":900,"refresh_token":"tsr_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)))
	defer bare.Close()
	ok := true
	if scenario != "refresh" {
		mk := func(base string) bench.NewRequest {
			return func(*rand.Rand) *http.Request {
				req, _ := http.NewRequest("POST", base+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(c.ID, secret)
				return req
			}
		}
		urls := []string{bare.URL, srv.URL}
		ratios, base, cand, err := bench.Compare(context.Background(), rounds, func(w int) bench.Result {
			return bench.Closed(context.Background(), conns, d, mk(urls[w]))
		})
		if err != nil {
			fmt.Println("client_credentials:", err)
			ok = false
		} else {
			report("POST /oauth2/token grant_type=client_credentials (ES256 JWT)", "bare net/http", ratios, base, cand)
		}
	}
	if scenario != "clientcredentials" {
		// Each worker keeps its own refresh family and rotates it in a loop:
		// every request is a durable transaction (fsync) plus a signature.
		chains := make([]chan string, conns)
		for i := range chains {
			_, rt, err := f.LoginTokens(srv.URL, i)
			if err != nil {
				fmt.Println(err)
				return false
			}
			chains[i] = make(chan string, 1)
			chains[i] <- rt
		}
		var next atomic.Int64
		urls := []string{bare.URL, srv.URL}
		ratios, base, cand, err := bench.Compare(context.Background(), rounds, func(w int) bench.Result {
			return bench.ClosedWith(context.Background(), conns, d, func(worker int) bench.Do {
				ch := chains[worker]
				return func(client *http.Client) error {
					next.Add(1)
					rt := <-ch
					req, _ := http.NewRequest("POST", urls[w]+"/oauth2/token", strings.NewReader("grant_type=refresh_token&refresh_token="+rt))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					res, err := client.Do(req)
					if err != nil {
						ch <- rt
						return err
					}
					var body struct {
						RefreshToken string `json:"refresh_token"`
					}
					err = json.NewDecoder(res.Body).Decode(&body)
					res.Body.Close()
					if w == 0 || err != nil || res.StatusCode != 200 {
						ch <- rt
						if w == 1 && res.StatusCode != 200 {
							return fmt.Errorf("refresh: %d", res.StatusCode)
						}
						return err
					}
					ch <- body.RefreshToken
					return nil
				}
			})
		})
		if err != nil {
			fmt.Println("refresh:", err)
			ok = false
		} else {
			report("POST /oauth2/token grant_type=refresh_token (durable rotation)", "bare net/http", ratios, base, cand)
		}
	}
	return ok
}
