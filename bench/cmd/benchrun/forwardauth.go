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

// forwardAuth compares GET /v1/auth/verify, asked as a trusted proxy
// (nginx auth_request) about a GET, by session cookie and by JWT access
// token, with a bare net/http handler answering the same headers.
func forwardAuth(n, rounds int, d time.Duration, conns int) bool {
	start := time.Now()
	fmt.Printf("\nforwardauth: loading %d sessions…\n", n)
	f, err := bench.NewFixture(bench.Options{Sessions: n, Users: max(conns, n/5), TrustedProxies: []string{"127.0.0.0/8", "::1/128"}})
	if err != nil {
		fmt.Println("fixture:", err)
		return false
	}
	defer f.Close()
	if err := f.Warm(); err != nil {
		fmt.Println("warm:", err)
		return false
	}
	fmt.Printf("  loaded in %v\n", time.Since(start).Round(time.Second))
	tess := httptest.NewServer(f.Server.Public())
	defer tess.Close()
	// One JWT per user of conns users: a proxy serves many users. (Five
	// sessions per user leave room under the per-user cap of 10.)
	var jwts []string
	for i := range conns {
		at, _, err := f.LoginTokens(tess.URL, i)
		if err != nil || at == "" {
			fmt.Println("login:", err)
			return false
		}
		jwts = append(jwts, at)
	}
	ok := true
	for _, tc := range []struct {
		name string
		set  func(*http.Request, *rand.Rand)
	}{
		{"session cookie", func(req *http.Request, r *rand.Rand) {
			req.Header.Set("Cookie", "__Host-tessera_session="+f.Tokens[r.IntN(len(f.Tokens))])
		}},
		{"JWT access token", func(req *http.Request, r *rand.Rand) {
			req.Header.Set("Authorization", "Bearer "+jwts[r.IntN(len(jwts))])
		}},
	} {
		mk := func(base string) bench.NewRequest {
			return func(r *rand.Rand) *http.Request {
				req, _ := http.NewRequest("GET", base+"/v1/auth/verify", nil)
				h := req.Header
				h.Set("X-Forwarded-Method", "GET")
				h.Set("X-Forwarded-Proto", "https")
				h.Set("X-Forwarded-Host", "app.bench")
				h.Set("X-Forwarded-Uri", "/dashboard?tab=1")
				h.Set("X-Forwarded-For", "192.0.2.10")
				tc.set(req, r)
				return req
			}
		}
		// The baseline answers with the very headers Tessera sends.
		res, err := http.DefaultClient.Do(mk(tess.URL)(rand.New(rand.NewPCG(1, 2))))
		if err != nil || res.StatusCode != 200 {
			fmt.Println("forwardauth: verify failed:", err, res)
			return false
		}
		res.Body.Close()
		answer := res.Header.Clone()
		bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			for k, v := range answer {
				if k != "Date" && k != "Content-Length" {
					h[k] = v
				}
			}
			w.WriteHeader(http.StatusOK)
		}))
		urls := []string{bare.URL, tess.URL}
		ratios, base, cand, err := bench.Compare(context.Background(), rounds, func(w int) bench.Result {
			return bench.Closed(context.Background(), conns, d, mk(urls[w]))
		})
		bare.Close()
		if err != nil {
			fmt.Println("forwardauth:", err)
			ok = false
			continue
		}
		report("GET /v1/auth/verify ("+tc.name+")", "bare net/http", ratios, base, cand)
	}
	return ok
}
