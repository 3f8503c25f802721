package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tessera-auth/tessera/bench"
)

// detection compares whoami on two nodes alike but for detection and
// the audit log: both off (the baseline) and both on (the default), each
// token presented once before the rounds, so each session's first use
// (an audit record, an evaluation by the rules) is behind them.
func detection(n, rounds int, d time.Duration, conns int) bool {
	start := time.Now()
	fmt.Printf("\ndetection: loading 2 × %d sessions…\n", n)
	var urls []string
	var tokens [][]string
	for _, off := range []bool{true, false} {
		f, err := bench.NewFixture(bench.Options{Sessions: n, Users: max(1, n/10), AuditOff: off, DetectionOff: off})
		if err != nil {
			fmt.Println("fixture:", err)
			return false
		}
		defer f.Close()
		srv := httptest.NewServer(f.Server.Public())
		defer srv.Close()
		// First uses through the handler: the audit summary and the rules
		// see each session once, as a running node's would.
		for _, tok := range f.Tokens {
			req, _ := http.NewRequest("GET", srv.URL+"/v1/session", nil)
			req.Header.Set("Cookie", "__Host-tessera_session="+tok)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
		urls, tokens = append(urls, srv.URL), append(tokens, f.Tokens)
	}
	fmt.Printf("  loaded in %v\n", time.Since(start).Round(time.Second))
	ratios, base, cand, err := bench.Compare(context.Background(), rounds, func(w int) bench.Result {
		return bench.Closed(context.Background(), conns, d, func(r *rand.Rand) *http.Request {
			req, _ := http.NewRequest("GET", urls[w]+"/v1/session", nil)
			req.Header.Set("Cookie", "__Host-tessera_session="+tokens[w][r.IntN(len(tokens[w]))])
			return req
		})
	})
	if err != nil {
		fmt.Println("detection:", err)
		return false
	}
	reportAs("GET /v1/session (cookie), detection + audit on", "both off", "both on", ratios, base, cand)
	return true
}
