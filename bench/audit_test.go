package bench

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkWhoamiAudit: GET /v1/session by cookie over loopback, 20k
// sessions, on two fixtures alike but for the audit log (off, on), in one
// run. Ratio = ns/op(audit-off) / ns/op(audit-on); the target is ≥ 0.9.
// Each session's first use from the benchmark's address and user agent is
// one audit record (the validation summary); later uses are none.
func BenchmarkWhoamiAudit(b *testing.B) {
	fixtures := map[string]*Fixture{}
	for _, name := range []string{"audit-off", "audit-on"} {
		f, err := NewFixture(Options{Sessions: 20000, Users: 2000, AuditOff: name == "audit-off"})
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := f.Warm(); err != nil {
			b.Fatal(err)
		}
		fixtures[name] = f
	}
	// Alternated, twice, so drift on a shared machine shows.
	for _, run := range []struct{ name, fixture string }{
		{"audit-off", "audit-off"}, {"audit-on", "audit-on"}, {"audit-off-again", "audit-off"}, {"audit-on-again", "audit-on"},
	} {
		f := fixtures[run.fixture]
		b.Run(run.name, func(b *testing.B) {
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
