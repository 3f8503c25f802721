package bench

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

var (
	detectOnce sync.Once
	detectFix  map[string]*Fixture
	detectErr  error
)

// detectFixtures are two fixtures alike but for detection and the audit
// log: both off, both on (the default). 20k live sessions each, every
// token presented once through the handler, so each session's first use
// (an audit record, an evaluation by the rules) is behind them and the
// benchmarks measure the steady state: the rules see a session again only
// when its network or user agent changes, or every 5 minutes.
func detectFixtures(b *testing.B) map[string]*Fixture {
	detectOnce.Do(func() {
		detectFix = map[string]*Fixture{}
		for _, name := range []string{"off", "on"} {
			off := name == "off"
			f, err := NewFixture(Options{Sessions: 20000, Users: 2000, AuditOff: off, DetectionOff: off})
			if err != nil {
				detectErr = err
				return
			}
			h := f.Server.Public()
			for _, tok := range f.Tokens {
				req := httptest.NewRequest("GET", "/v1/session", nil)
				req.Header["Cookie"] = []string{"__Host-tessera_session=" + tok}
				h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
			}
			detectFix[name] = f
		}
	})
	if detectErr != nil {
		b.Fatal(detectErr)
	}
	return detectFix
}

// BenchmarkWhoamiDetection: GET /v1/session by cookie over loopback with
// detection and the audit log both off, then both on, alternating (see
// alternate). Ratio = ns/op(off) / ns/op(on); the target is ≥ 0.9.
func BenchmarkWhoamiDetection(b *testing.B) {
	fs := detectFixtures(b)
	for _, name := range alternate {
		f := fs[name]
		b.Run("detect-audit-"+name, func(b *testing.B) {
			srv := httptest.NewServer(f.Server.Public())
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
			mk := cookieRequest(srv.URL, f.Tokens)
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 5))
				for pb.Next() {
					res, err := client.Do(mk(r))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkWhoamiDetectionHandler: the whoami handler alone (no
// network), detection and audit off and on.
func BenchmarkWhoamiDetectionHandler(b *testing.B) {
	fs := detectFixtures(b)
	for _, name := range alternate {
		h := fs[name].Server.Public()
		toks := fs[name].Tokens
		b.Run("detect-audit-"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 6))
				req := httptest.NewRequest("GET", "/v1/session", nil)
				for pb.Next() {
					req.Header["Cookie"] = []string{"__Host-tessera_session=" + toks[r.IntN(len(toks))]}
					w := discardWriter{h: http.Header{}}
					h.ServeHTTP(&w, req)
					if w.code != 200 {
						b.Errorf("status %d", w.code)
						return
					}
				}
			})
		})
	}
}
