package bench

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// alternate runs off, on, off, on, off, on, so drift on a shared machine
// shows in both. Ratio = ns/op(off) / ns/op(on); the target is ≥ 0.9.
var alternate = []string{"off", "on", "off", "on", "off", "on"}

// onOff builds, once, two fixtures alike but for a feature: "off" and
// "on". Every token is presented once through the handler, so each
// session's first use (an audit record, an evaluation by the rules) is
// behind them and the benchmarks measure the steady state.
type onOff struct {
	once sync.Once
	fix  map[string]*Fixture
	err  error
}

// fixtures returns the two fixtures; opts gives a fixture's options with
// the feature off or on.
func (o *onOff) fixtures(b *testing.B, opts func(off bool) Options) map[string]*Fixture {
	o.once.Do(func() {
		o.fix = map[string]*Fixture{}
		for _, name := range []string{"off", "on"} {
			f, err := NewFixture(opts(name == "off"))
			if err != nil {
				o.err = err
				return
			}
			h := f.Server.Public()
			for _, tok := range f.Tokens {
				req := httptest.NewRequest("GET", "/v1/session", nil)
				req.Header["Cookie"] = []string{"__Host-tessera_session=" + tok}
				h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
			}
			o.fix[name] = f
		}
	})
	if o.err != nil {
		b.Fatal(o.err)
	}
	return o.fix
}

// whoamiOnOff runs GET /v1/session by cookie over loopback against the
// off and on fixtures, alternating, as sub-benchmarks prefix+"off" and
// prefix+"on".
func whoamiOnOff(b *testing.B, prefix string, fs map[string]*Fixture, seed uint64) {
	for _, name := range alternate {
		f := fs[name]
		b.Run(prefix+name, func(b *testing.B) {
			srv := httptest.NewServer(f.Server.Public())
			defer srv.Close()
			whoamiClient(b, srv.URL, f.Tokens, seed)
		})
	}
}

// whoamiHandlerOnOff is whoamiOnOff on the handler alone (no network).
func whoamiHandlerOnOff(b *testing.B, prefix string, fs map[string]*Fixture, seed uint64) {
	for _, name := range alternate {
		h := fs[name].Server.Public()
		toks := fs[name].Tokens
		b.Run(prefix+name, func(b *testing.B) { whoamiServe(b, h, toks, seed) })
	}
}
