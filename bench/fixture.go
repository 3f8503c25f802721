package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/clientip"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/server"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
)

// Password is every fixture user's password.
const Password = "correct horse battery staple"

// Fixture is a server configured as `tessera serve` configures it (default
// policy, metrics on, request log off) over a durable SQLite store holding
// Users users and one live session per Tokens entry.
type Fixture struct {
	Dir      string
	Store    *sqlite.Store
	Sessions *session.Manager
	Server   *server.Server
	Tokens   []string // raw session tokens, all live
	Users    []string // usernames
	// HeapPerSession is the heap growth per created-and-cached session.
	HeapPerSession float64

	Keys     *keys.Keyset
	OAuth    *oauth.Service
	Verifier *accesstoken.Verifier
	Issuer   string

	stopRun context.CancelFunc
	runDone chan struct{}
}

// AdminToken is the fixture server's admin credential.
const AdminToken = "tsx_bench-admin-token-0123456789abcdef"

// Options size a fixture.
type Options struct {
	Sessions, Users int
	// RealHashes gives every user a hash at the production argon2id cost
	// (needed only by login benchmarks; it takes ~30 ms per user).
	RealHashes bool
}

// NewFixture builds a fixture in a fresh temporary folder. Sessions load
// with fsync off; the store is then reopened durable for measuring.
func NewFixture(opt Options) (*Fixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tessera-bench")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "tessera.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{NoSync: true})
	if err != nil {
		return nil, err
	}
	pol := config.Default().Policy
	h, err := password.NewHasher(password.DefaultParams(), 0)
	if err != nil {
		return nil, err
	}
	cheapHasher, _ := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 0)
	cheap, err := cheapHasher.Hash(ctx, Password)
	if err != nil {
		return nil, err
	}
	f := &Fixture{Dir: dir}
	for i := range opt.Users {
		now := time.Now()
		u := store.User{ID: fmt.Sprintf("user-%07d", i), Username: fmt.Sprintf("user%07d", i), PasswordHash: cheap, CreatedAt: now, PasswordChangedAt: now}
		if opt.RealHashes {
			if u.PasswordHash, err = h.Hash(ctx, Password); err != nil {
				return nil, err
			}
		}
		if err := st.CreateUser(ctx, u); err != nil {
			return nil, err
		}
		f.Users = append(f.Users, u.Username)
	}
	scfg := sessionConfig(pol)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	loader := session.New(st, scfg)
	for i := range opt.Sessions {
		u := i % opt.Users
		tok, _, err := loader.Create(ctx, session.NewSession{UserID: fmt.Sprintf("user-%07d", u), Username: f.Users[u], IP: "127.0.0.1", UserAgent: "bench", AMR: []string{"pwd"}, AAL: 1})
		if err != nil {
			return nil, err
		}
		f.Tokens = append(f.Tokens, tok.Reveal())
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if opt.Sessions > 0 {
		// Includes the fixture's own copy of each raw token (~70 bytes).
		f.HeapPerSession = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(opt.Sessions)
	}
	runtime.KeepAlive(loader)
	st.Close()

	if f.Store, err = sqlite.Open(ctx, path, sqlite.Options{}); err != nil {
		return nil, err
	}
	metrics := server.NewMetrics(nil, nil)
	// As in `tessera serve`: logs (discarded here) and metrics subscribe.
	log := slog.New(slog.DiscardHandler)
	events := event.NewFanout(log)
	el := event.NewLogger(log)
	events.Subscribe(el, el.Kinds()...)
	events.Subscribe(metrics, metrics.Kinds()...)
	scfg.Events = events
	f.Sessions = session.New(f.Store, scfg)
	l := pol.Login
	an := authn.New(f.Store, h, password.DefaultPolicy(), authn.Limits{
		PerIPBurst: l.PerIPBurst, PerIPRefill: l.PerIPRefill.D(),
		PerAccountIPBurst: l.PerAccountIPBurst, PerAccountIPRefill: l.PerAccountIPRefill.D(),
		PerAccountBurst: l.PerAccountBurst, PerAccountRefill: l.PerAccountRefill.D(),
	}, nil, nil, events)
	ips, _ := clientip.New(nil, "")
	mk, _, err := keys.NewMasterKey()
	if err != nil {
		return nil, err
	}
	if f.Keys, err = keys.New(f.Store, mk, keys.Config{Alg: pol.Keys.Algorithm, RetiredTTL: pol.Keys.RetiredTTL.D(), Events: events}); err != nil {
		return nil, err
	}
	if err := f.Keys.Load(ctx); err != nil {
		return nil, err
	}
	f.Issuer = "https://tessera.bench"
	tp := pol.Tokens
	f.OAuth = oauth.New(f.Store, f.Keys, oauth.Config{
		Issuer: f.Issuer, Audience: f.Issuer, Access: tp.AccessTTL.D(), Refresh: tp.RefreshTTL.D(), Grace: tp.RefreshGrace.D(),
		Pepper: []byte("bench-pepper"), Events: events, Sessions: f.Sessions,
	})
	f.Verifier = &accesstoken.Verifier{
		Issuer: f.Issuer, Audience: f.Issuer, Algorithms: []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256},
		Keys: func(kid string) (*jose.JSONWebKey, error) {
			k, err := f.Keys.PublicKey(kid)
			if err != nil {
				return nil, accesstoken.ErrUnknownKey
			}
			return k, nil
		},
	}
	f.Server = server.New(server.Config{AdminToken: AdminToken, Events: events}, f.Store, f.Sessions, an, ips, metrics, log, nil).
		WithKeys(f.Keys).
		WithOAuth(f.OAuth, f.Verifier, server.OAuthConfig{Issuer: f.Issuer, AccessTTL: tp.AccessTTL.D(), SessionIdle: tp.RefreshTTL.D(), SessionAbsolute: tp.SessionAbsolute.D()}, f.Store)
	// As in `tessera serve`: the denylist is loaded before the first
	// request and the feed is followed while the fixture lives, so the
	// numbers include what production pays for both.
	if err := f.Sessions.Start(ctx); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	f.stopRun, f.runDone = stop, make(chan struct{})
	go func() {
		defer close(f.runDone)
		f.Sessions.Run(runCtx)
	}()
	return f, nil
}

func sessionConfig(p config.Policy) session.Config {
	s := p.Session
	return session.Config{
		IdleTimeout: s.IdleTimeout.D(), AbsoluteTimeout: s.AbsoluteTimeout.D(), MaxPerUser: s.MaxPerUser,
		TouchInterval: s.TouchInterval.D(), RevocationPoll: s.RevocationPoll.D(), CacheSize: s.CacheSize,
	}
}

// Warm validates every token once, as traffic would on a running node.
func (f *Fixture) Warm() error {
	for _, tok := range f.Tokens {
		if _, err := f.Sessions.Validate(context.Background(), tok, session.Use{}); err != nil {
			return err
		}
	}
	return nil
}

// Close removes the fixture.
func (f *Fixture) Close() {
	if f.stopRun != nil {
		f.stopRun()
		<-f.runDone
	}
	f.Store.Close()
	os.RemoveAll(f.Dir)
}

// WhoamiBody returns Tessera's real whoami answer for the first token, so
// the baseline can send the same bytes.
func (f *Fixture) WhoamiBody() ([]byte, error) {
	req := httptest.NewRequest("GET", "/v1/session", nil)
	req.Header.Set("Cookie", "__Host-tessera_session="+f.Tokens[0])
	w := httptest.NewRecorder()
	f.Server.Public().ServeHTTP(w, req)
	if w.Code != 200 {
		return nil, fmt.Errorf("whoami: %d %s", w.Code, w.Body)
	}
	return io.ReadAll(w.Body)
}

// Bare is the baseline: net/http writing a fixed body with the same
// headers a JSON API answer carries, and no work behind it.
func Bare(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(body)
	})
}

// LoginTokens logs fixture user i in with token delivery.
func (f *Fixture) LoginTokens(base string, i int) (access, refresh string, err error) {
	req, _ := http.NewRequest("POST", base+"/v1/login", strings.NewReader(`{"username":"`+f.Users[i]+`","password":"`+Password+`","delivery":"token"}`))
	req.Header.Set("Content-Type", "application/json")
	b, err := Fetch(req)
	if err != nil {
		return "", "", err
	}
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	err = json.Unmarshal(b, &body)
	return body.AccessToken, body.RefreshToken, err
}

// LoginCookie logs the first fixture user in with cookie delivery and
// returns the session token.
func (f *Fixture) LoginCookie(base string) (string, error) {
	req, _ := http.NewRequest("POST", base+"/v1/login", strings.NewReader(`{"username":"`+f.Users[0]+`","password":"`+Password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "__Host-tessera_session" {
			return c.Value, nil
		}
	}
	return "", fmt.Errorf("login: %d, no session cookie", res.StatusCode)
}
