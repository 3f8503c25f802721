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
	auditOnce sync.Once
	auditFix  map[string]*Fixture
	auditErr  error
)

// auditFixtures are two fixtures alike but for the audit log (off, on):
// 20k live sessions each, every token presented once through the handler,
// so each session's first use (one audit record: the validation summary)
// is behind them and the benchmarks measure the steady state.
func auditFixtures(b *testing.B) map[string]*Fixture {
	auditOnce.Do(func() {
		auditFix = map[string]*Fixture{}
		for _, name := range []string{"off", "on"} {
			f, err := NewFixture(Options{Sessions: 20000, Users: 2000, AuditOff: name == "off"})
			if err != nil {
				auditErr = err
				return
			}
			h := f.Server.Public()
			for _, tok := range f.Tokens {
				req := httptest.NewRequest("GET", "/v1/session", nil)
				req.Header["Cookie"] = []string{"__Host-tessera_session=" + tok}
				h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
			}
			auditFix[name] = f
		}
	})
	if auditErr != nil {
		b.Fatal(auditErr)
	}
	return auditFix
}

// alternate runs off, on, off, on, off, on, so drift on a shared machine
// shows in both. Ratio = ns/op(off) / ns/op(on); the target is ≥ 0.9.
var alternate = []string{"off", "on", "off", "on", "off", "on"}

// BenchmarkWhoamiAudit: GET /v1/session by cookie over loopback with the
// audit log off and on.
func BenchmarkWhoamiAudit(b *testing.B) {
	fs := auditFixtures(b)
	for _, name := range alternate {
		f := fs[name]
		b.Run("audit-"+name, func(b *testing.B) {
			srv := httptest.NewServer(f.Server.Public())
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
			mk := cookieRequest(srv.URL, f.Tokens)
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 3))
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

// BenchmarkWhoamiAuditHandler: the whoami handler alone (no network),
// audit off and on.
func BenchmarkWhoamiAuditHandler(b *testing.B) {
	fs := auditFixtures(b)
	for _, name := range alternate {
		h := fs[name].Server.Public()
		toks := fs[name].Tokens
		b.Run("audit-"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 4))
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
