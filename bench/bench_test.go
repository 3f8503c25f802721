package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/password"
	"golang.org/x/crypto/argon2"
)

var (
	whoamiOnce sync.Once
	whoamiFix  *Fixture
	whoamiErr  error
)

// whoamiFixture is shared by the whoami benchmarks: 100k live sessions
// over 10k users, all cached.
func whoamiFixture(b *testing.B) *Fixture {
	whoamiOnce.Do(func() {
		whoamiFix, whoamiErr = NewFixture(Options{Sessions: 100000, Users: 10000})
		if whoamiErr == nil {
			whoamiErr = whoamiFix.Warm()
		}
	})
	if whoamiErr != nil {
		b.Fatal(whoamiErr)
	}
	return whoamiFix
}

func cookieRequest(url string, tokens []string) NewRequest {
	return func(r *rand.Rand) *http.Request {
		req, _ := http.NewRequest("GET", url+"/v1/session", nil)
		req.Header.Set("Cookie", "__Host-tessera_session="+tokens[r.IntN(len(tokens))])
		return req
	}
}

// BenchmarkWhoami: GET /v1/session by cookie, 100k sessions, over loopback,
// beside the bare handler. Ratio = ns/op(bare) / ns/op(tessera).
func BenchmarkWhoami(b *testing.B) { whoamiLoopback(b, whoamiFixture(b)) }

// BenchmarkWhoamiMFA is BenchmarkWhoami over sessions that passed a
// second factor (see BenchmarkWhoamiMFAHandler).
func BenchmarkWhoamiMFA(b *testing.B) { whoamiLoopback(b, mfaWhoamiFixture(b)) }

func whoamiLoopback(b *testing.B, f *Fixture) {
	b.Logf("%d sessions cached, ~%.0f heap bytes each", f.Sessions.CacheLen(), f.HeapPerSession)
	body, err := f.WhoamiBody()
	if err != nil {
		b.Fatal(err)
	}
	tess := httptest.NewServer(f.Server.Public())
	defer tess.Close()
	bare := httptest.NewServer(Bare(body))
	defer bare.Close()
	for _, tc := range []struct{ name, url string }{{"bare", bare.URL}, {"tessera", tess.URL}} {
		b.Run(tc.name, func(b *testing.B) { whoamiClient(b, tc.url, f.Tokens, 1) })
	}
}

// whoamiClient is the body of a loopback whoami benchmark: 16 goroutines
// a CPU sending GET /v1/session to url with a random one of tokens as the
// cookie. seed tells the benchmarks' random streams apart.
func whoamiClient(b *testing.B, url string, tokens []string, seed uint64) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	mk := cookieRequest(url, tokens)
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), seed))
		for pb.Next() {
			res, err := client.Do(mk(r))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body) // or the connection is not reused
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}

// BenchmarkWhoamiHandler isolates the handler's own cost (no network, no
// client) beside the bare handler's.
func BenchmarkWhoamiHandler(b *testing.B) { whoamiHandler(b, whoamiFixture(b)) }

var (
	mfaWhoamiOnce sync.Once
	mfaWhoamiFix  *Fixture
	mfaWhoamiErr  error
)

// BenchmarkWhoamiMFAHandler is BenchmarkWhoamiHandler over sessions that
// passed a second factor (amr pwd, otp, mfa; AAL2): the assurance a
// session carries must not slow whoami (issue 9: >= 0.8x bare).
func BenchmarkWhoamiMFAHandler(b *testing.B) { whoamiHandler(b, mfaWhoamiFixture(b)) }

func mfaWhoamiFixture(b *testing.B) *Fixture {
	mfaWhoamiOnce.Do(func() {
		mfaWhoamiFix, mfaWhoamiErr = NewFixture(Options{Sessions: 100000, Users: 10000, MFA: true})
		if mfaWhoamiErr == nil {
			mfaWhoamiErr = mfaWhoamiFix.Warm()
		}
	})
	if mfaWhoamiErr != nil {
		b.Fatal(mfaWhoamiErr)
	}
	return mfaWhoamiFix
}

func whoamiHandler(b *testing.B, f *Fixture) {
	body, _ := f.WhoamiBody()
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", Bare(body)}, {"tessera", f.Server.Public()}} {
		b.Run(tc.name, func(b *testing.B) { whoamiServe(b, tc.h, f.Tokens, 2) })
	}
}

// whoamiServe is the body of a handler-only whoami benchmark: GET
// /v1/session served by h with a random one of tokens as the cookie, no
// network, allocations reported.
func whoamiServe(b *testing.B, h http.Handler, tokens []string, seed uint64) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), seed))
		req := httptest.NewRequest("GET", "/v1/session", nil)
		for pb.Next() {
			req.Header["Cookie"] = []string{"__Host-tessera_session=" + tokens[r.IntN(len(tokens))]}
			w := discardWriter{h: http.Header{}}
			h.ServeHTTP(&w, req)
			if w.code != 200 {
				b.Errorf("status %d", w.code)
				return
			}
		}
	})
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = 200
	}
	return len(p), nil
}
func (d *discardWriter) WriteHeader(c int) { d.code = c }

// BenchmarkLogin: password logins at the production argon2id cost, durable
// session writes included, beside the raw argon2id rate of the same
// parameters on the same cores. Ratio = ns/op(raw) / ns/op(login).
func BenchmarkLogin(b *testing.B) {
	f, err := NewFixture(Options{Users: 64, RealHashes: true})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	p := password.DefaultParams()
	b.Run("raw-argon2id", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			salt := make([]byte, 16)
			for pb.Next() {
				argon2.IDKey([]byte(Password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
			}
		})
	})
	srv := httptest.NewServer(f.Server.Public())
	defer srv.Close()
	b.Run("login", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 3))
			for pb.Next() {
				res, err := client.Post(srv.URL+"/v1/login", "application/json", strings.NewReader(
					`{"username":"`+f.Users[r.IntN(len(f.Users))]+`","password":"`+Password+`","delivery":"token"}`))
				if err != nil {
					b.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Errorf("login: %d", res.StatusCode)
					return
				}
			}
		})
	})
}

// BenchmarkLoginFailure: a wrong password and an unknown user must cost
// the same, or response time reveals which accounts exist. Each request
// comes from its own address so no throttle interferes.
func BenchmarkLoginFailure(b *testing.B) {
	for _, tc := range []struct {
		name    string
		unknown bool
	}{{"wrong-password", false}, {"unknown-user", true}} {
		b.Run(tc.name, func(b *testing.B) {
			// A fresh fixture per run: the per-account throttle would
			// otherwise end a long run.
			f, err := NewFixture(Options{Users: 1, RealHashes: true})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			h := f.Server.Public()
			user := f.Users[0]
			if tc.unknown {
				user = "nobody"
			}
			b.ResetTimer()
			for i := range b.N {
				req := httptest.NewRequest("POST", "/v1/login", strings.NewReader(`{"username":"`+user+`","password":"wrong horse battery"}`))
				req.Header.Set("Content-Type", "application/json")
				req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1", byte(i>>16), byte(i>>8), byte(i))
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 401 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// TestHarness checks the harness itself on a small fixture: the baseline
// and Tessera both answer, and Compare reports a ratio per round.
func TestHarness(t *testing.T) {
	f, err := NewFixture(Options{Sessions: 50, Users: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.HeapPerSession <= 0 {
		t.Fatalf("heap per session %.0f", f.HeapPerSession)
	}
	body, err := f.WhoamiBody()
	if err != nil || !strings.Contains(string(body), `"username":"user0000000"`) {
		t.Fatalf("whoami body %q, %v", body, err)
	}
	tess := httptest.NewServer(f.Server.Public())
	defer tess.Close()
	bare := httptest.NewServer(Bare(body))
	defer bare.Close()
	urls := []string{bare.URL, tess.URL}
	ratios, base, cand, err := Compare(context.Background(), 2, func(w int) Result {
		return Closed(context.Background(), 2, 100e6, cookieRequest(urls[w], f.Tokens))
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ratios) != 2 || base[0].Requests == 0 || cand[0].Requests == 0 || ratios[0] <= 0 {
		t.Fatalf("ratios %v, base %+v, cand %+v", ratios, base, cand)
	}
	clients := []*http.Client{NewClient(2), NewClient(2)}
	defer clients[0].CloseIdleConnections()
	defer clients[1].CloseIdleConnections()
	var slices [2]int
	ratios, base, cand, err = CompareInterleaved(context.Background(), 2, 100e6, 25e6, func(w int, d time.Duration) Result {
		slices[w]++
		return ClosedOn(context.Background(), clients[w], 2, d, cookieRequest(urls[w], f.Tokens))
	})
	if err != nil {
		t.Fatal(err)
	}
	if slices != [2]int{8, 8} || len(ratios) != 2 || base[1].Requests == 0 || cand[1].Requests == 0 || base[1].Elapsed < 100e6 || ratios[0] <= 0 {
		t.Fatalf("interleaved: %v slices, ratios %v, base %+v, cand %+v", slices, ratios, base, cand)
	}
}

// introspectFixture is a server with one confidential client ("rs") and,
// for the first user, a JWT access token and a session token.
type introspectFixture struct {
	*Fixture
	srv            *httptest.Server
	client, secret string
	tokens         []struct{ name, raw string }
}

func newIntrospectFixture(b *testing.B) *introspectFixture {
	f, err := NewFixture(Options{Users: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Close)
	srv := httptest.NewServer(f.Server.Public())
	b.Cleanup(srv.Close)
	c, secret, err := f.OAuth.RegisterClient(context.Background(), oauth.ClientSpec{Name: "rs", Introspect: true})
	if err != nil {
		b.Fatal(err)
	}
	at, _, err := f.LoginTokens(srv.URL, 0)
	if err != nil {
		b.Fatal(err)
	}
	sess, err := f.LoginCookie(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	return &introspectFixture{Fixture: f, srv: srv, client: c.ID, secret: secret,
		tokens: []struct{ name, raw string }{{"jwt", at}, {"session", sess}}}
}

func (f *introspectFixture) request(base, tok string) *http.Request {
	req, _ := http.NewRequest("POST", base+"/oauth2/introspect", strings.NewReader("token="+tok))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(f.client, f.secret)
	return req
}

// BenchmarkIntrospect: POST /oauth2/introspect over loopback for a JWT
// access token and a session token, each beside the bare handler sending
// the same answer. Ratio = ns/op(bare) / ns/op(tessera).
func BenchmarkIntrospect(b *testing.B) {
	f := newIntrospectFixture(b)
	for _, tok := range f.tokens {
		answer, err := Fetch(f.request(f.srv.URL, tok.raw))
		if err != nil || !strings.Contains(string(answer), `"active":true`) {
			b.Fatalf("introspect %s: %v %s", tok.name, err, answer)
		}
		bare := httptest.NewServer(Bare(answer))
		for _, tc := range []struct{ name, url string }{{"bare", bare.URL}, {"tessera", f.srv.URL}} {
			b.Run(tok.name+"/"+tc.name, func(b *testing.B) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						res, err := client.Do(f.request(tc.url, tok.raw))
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
		bare.Close()
	}
}

// BenchmarkIntrospectHandler isolates POST /oauth2/introspect's own cost
// (no network, no client) for a JWT access token and a session token,
// beside the bare handler answering the same bytes.
func BenchmarkIntrospectHandler(b *testing.B) {
	f := newIntrospectFixture(b)
	h := f.Server.Public()
	for _, tok := range f.tokens {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, f.request("", tok.raw))
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"active":true`) {
			b.Fatalf("introspect %s: %d %s", tok.name, w.Code, w.Body)
		}
		answer := w.Body.Bytes()
		for _, tc := range []struct {
			name string
			h    http.Handler
		}{{"bare", Bare(answer)}, {"tessera", h}} {
			b.Run(tok.name+"/"+tc.name, func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						w := discardWriter{h: http.Header{}}
						tc.h.ServeHTTP(&w, f.request("", tok.raw))
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
