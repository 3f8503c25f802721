package bench

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

var (
	fwdOnce sync.Once
	fwdFix  *Fixture
	fwdJWTs []string
	fwdErr  error
)

// forwardAuthFixture: 20k sessions over 4k users (room under the per-user
// cap for one token login each of the first 32), trusting loopback as
// the proxy, and 32 users' JWT access tokens.
func forwardAuthFixture(b *testing.B) (*Fixture, []string) {
	fwdOnce.Do(func() {
		fwdFix, fwdErr = NewFixture(Options{Sessions: 20000, Users: 4000, TrustedProxies: []string{"127.0.0.0/8", "192.0.2.0/24"}})
		if fwdErr != nil {
			return
		}
		if fwdErr = fwdFix.Warm(); fwdErr != nil {
			return
		}
		ts := httptest.NewServer(fwdFix.Server.Public())
		defer ts.Close()
		for i := range 32 {
			at, _, err := fwdFix.LoginTokens(ts.URL, i)
			if err != nil {
				fwdErr = err
				return
			}
			fwdJWTs = append(fwdJWTs, at)
		}
	})
	if fwdErr != nil {
		b.Fatal(fwdErr)
	}
	return fwdFix, fwdJWTs
}

// BenchmarkForwardAuthHandler isolates GET /v1/auth/verify's own cost (no
// network, no client), asked as a trusted proxy about a GET, by cookie and
// by JWT, beside a bare handler writing the same identity headers.
func BenchmarkForwardAuthHandler(b *testing.B) {
	f, jwts := forwardAuthFixture(b)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, k := range []string{"X-Tessera-User-Id", "X-Tessera-Username", "X-Tessera-Session-Id", "X-Tessera-Client-Id", "X-Tessera-Scope", "X-Tessera-Aal"} {
			h[k] = []string{"01a23b47-babd-7d67-85da-3bf42a47c059"}
		}
		h["Cache-Control"] = []string{"no-store"}
		w.WriteHeader(200)
	})
	for _, cred := range []string{"cookie", "jwt"} {
		for _, tc := range []struct {
			name string
			h    http.Handler
		}{{"bare", bare}, {"tessera", f.Server.Public()}} {
			b.Run(cred+"/"+tc.name, func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					r := rand.New(rand.NewPCG(rand.Uint64(), 3))
					req := httptest.NewRequest("GET", "/v1/auth/verify", nil)
					req.RemoteAddr = "127.0.0.1:4000"
					h := req.Header
					h.Set("X-Forwarded-Method", "GET")
					h.Set("X-Forwarded-Proto", "https")
					h.Set("X-Forwarded-Host", "app.bench")
					h.Set("X-Forwarded-Uri", "/dashboard?tab=1")
					h.Set("X-Forwarded-For", "192.0.2.10")
					for pb.Next() {
						if cred == "cookie" {
							h["Cookie"] = []string{"__Host-tessera_session=" + f.Tokens[r.IntN(len(f.Tokens))]}
						} else {
							h["Authorization"] = []string{"Bearer " + jwts[r.IntN(len(jwts))]}
						}
						w := discardWriter{h: http.Header{}}
						tc.h.ServeHTTP(&w, req)
						if w.code != 200 {
							b.Errorf("status %d", w.code)
							return
						}
					}
				})
			})
		}
	}
}
