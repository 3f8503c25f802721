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

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
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

// Fixture is a server wired as `tessera serve` wires it (internal/app,
// default policy, metrics on, request log off) over a durable store (SQLite
// in Dir, or a fresh schema on Options.Postgres' server) holding Users
// users and one live session per Tokens entry.
type Fixture struct {
	Dir   string
	Store store.Store
	// StoreURL is the store's URL (sqlite: file, or postgres:// with the
	// fixture's own search_path).
	StoreURL string
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

	app        *app.App
	dropSchema func()
	stopRun    context.CancelFunc
	runDone    chan struct{}
}

// AdminToken is the fixture server's admin credential.
const AdminToken = "tsx_bench-admin-token-0123456789abcdef"

// Options size a fixture.
type Options struct {
	Sessions, Users int
	// RealHashes gives every user a hash at the production argon2id cost
	// (needed only by login benchmarks; it takes ~30 ms per user).
	RealHashes bool
	// TrustedProxies is the server's trusted_proxies (forward auth
	// believes X-Forwarded-* only from them).
	TrustedProxies []string
	// MFA makes every session one that passed a second factor (amr
	// pwd, otp, mfa; AAL2), as after a TOTP login.
	MFA bool
	// Bulk loads the sessions straight into the tables (COPY on
	// PostgreSQL, one transaction of prepared inserts on SQLite) instead of
	// through the session engine: for millions of sessions.
	Bulk bool
	// Postgres, if set, is a PostgreSQL server URL (postgres://host/db):
	// the fixture runs on a schema of its own there, dropped by Close,
	// instead of on SQLite.
	Postgres string
	// AuditOff turns the audit log off (config audit.disabled), for the
	// audit on/off comparison.
	AuditOff bool
	// DetectionOff turns detection off (config detection.enabled), for
	// the detection on/off comparison.
	DetectionOff bool
}

// NewFixture builds a fixture in a fresh temporary folder. Sessions load
// with fsync off; the store is then reopened durable for measuring.
func NewFixture(opt Options) (*Fixture, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "tessera-bench")
	if err != nil {
		return nil, err
	}
	f := &Fixture{Dir: dir}
	c := config.Default()
	c.Data = dir
	var st store.Store
	if opt.Postgres != "" {
		if c.Store, f.dropSchema, err = pgSchema(ctx, opt.Postgres); err != nil {
			return nil, err
		}
		if st, _, err = app.OpenStore(ctx, c, app.Migrate); err != nil {
			f.Close()
			return nil, err
		}
	} else {
		if st, err = sqlite.Open(ctx, filepath.Join(dir, "tessera.db"), sqlite.Options{NoSync: true}); err != nil {
			return nil, err
		}
	}
	f.StoreURL = app.StoreURL(c)
	h, err := password.NewHasher(password.DefaultParams(), 0, 0)
	if err != nil {
		return nil, err
	}
	cheapHasher, _ := password.NewHasher(password.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 0, 0)
	cheap, err := cheapHasher.Hash(ctx, Password)
	if err != nil {
		return nil, err
	}
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
	scfg := app.SessionConfig(config.Default())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	loader := session.New(st, scfg)
	if opt.Bulk && opt.Sessions > 0 {
		path := filepath.Join(dir, "tessera.db")
		if opt.Postgres != "" {
			path = ""
		}
		if f.Tokens, err = bulkLoad(ctx, c.Store, path, f.Users, opt.Sessions); err != nil {
			st.Close()
			f.Close()
			return nil, fmt.Errorf("bulk load: %w", err)
		}
		opt.Sessions = 0
	}
	amr, aal := []string{"pwd"}, 1
	if opt.MFA {
		amr, aal = []string{"pwd", "otp", "mfa"}, 2
	}
	for i := range opt.Sessions {
		u := i % opt.Users
		tok, _, err := loader.Create(ctx, session.NewSession{UserID: fmt.Sprintf("user-%07d", u), Username: f.Users[u], IP: "127.0.0.1", UserAgent: "bench", AMR: amr, AAL: aal})
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

	// From here the server is wired exactly as `tessera serve` wires it
	// (internal/app), over the durable store reopened through store.Open.
	c.Policy.Tokens.Issuer = "https://tessera.bench"
	c.TrustedProxies = opt.TrustedProxies
	c.Audit.Disabled = opt.AuditOff
	c.Detection.Enabled = !opt.DetectionOff
	a, err := app.New(ctx, c, app.Options{Logger: slog.New(slog.DiscardHandler), AdminToken: AdminToken})
	if err != nil {
		return nil, err
	}
	f.app = a
	f.Store = a.Store
	f.Sessions, f.Server, f.Keys, f.OAuth, f.Verifier, f.Issuer = a.Sessions, a.Server, a.Keys, a.OAuth, a.Verifier, c.Issuer()
	// As in `tessera serve`: the denylist was loaded before the first
	// request (app.New) and the background loops run while the fixture
	// lives, so the numbers include what production pays for both.
	runCtx, stop := context.WithCancel(context.Background())
	f.stopRun, f.runDone = stop, make(chan struct{})
	go func() {
		defer close(f.runDone)
		a.Run(runCtx)
	}()
	return f, nil
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
	if f.app != nil {
		f.app.Close()
	}
	if f.dropSchema != nil {
		f.dropSchema()
	}
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
