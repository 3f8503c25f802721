package app_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
)

const adminToken = "tsx_app-test-admin-token-0123456789abcdef"

// testConfig is the default config over a data folder that does not exist
// yet, with cheap password hashing.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	c := config.Default()
	c.Data = filepath.Join(t.TempDir(), "tessera-data")
	c.Policy.Password.Argon2Memory, c.Policy.Password.Argon2Iterations = 64, 1
	return c
}

// TestExistingCreatesNothing: what read-only commands use refuses a
// missing store and leaves no data folder or database behind.
func TestExistingCreatesNothing(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	_, _, err := app.OpenStore(ctx, c, app.Existing)
	if !errors.Is(err, store.ErrNoDatabase) || !strings.Contains(err.Error(), "--data "+c.Data) {
		t.Fatalf("OpenStore(missing, Existing): %v; want ErrNoDatabase naming --data", err)
	}
	if _, err := os.Stat(c.Data); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the data folder was created: %v", err)
	}
	if _, err := app.New(ctx, c, app.Options{AdminToken: adminToken}); !errors.Is(err, store.ErrNoDatabase) {
		t.Fatalf("New(missing, Existing): %v", err)
	}
	if _, err := os.Stat(c.Data); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New created the data folder: %v", err)
	}
}

// TestCreate: a missing store is created at the latest schema, in a data
// folder only its owner can read; opening it again applies nothing.
func TestCreate(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	info := create(t, c)
	if info.Schema.Current != info.Schema.Latest || len(info.Applied) == 0 || info.Applied[len(info.Applied)-1] != info.Schema.Latest || info.Location != filepath.Join(c.Data, "tessera.db") {
		t.Fatalf("info %+v", info)
	}
	if fi, err := os.Stat(c.Data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data folder: %v %v", fi, err)
	}
	for _, access := range []app.Access{app.Existing, app.Create, app.Migrate} {
		st, info, err := app.OpenStore(ctx, c, access)
		if err != nil || len(info.Applied) != 0 {
			t.Fatalf("reopen (access %d): applied %v, %v", access, info.Applied, err)
		}
		st.Close()
	}
}

// create creates the store c names, closes it and says what it found.
func create(t *testing.T, c config.Config) app.StoreInfo {
	t.Helper()
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	st, info, err := app.OpenStore(context.Background(), c, app.Create)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return info
}

// execSQL changes the database file behind the store's back.
func execSQL(t *testing.T, c config.Config, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(c.Data, "tessera.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
}

// TestOutdatedSchema: a store a migration behind is refused by the admin
// commands' modes, which say to run tessera migrate and migrate nothing.
func TestOutdatedSchema(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	info := create(t, c)
	latest := info.Schema.Latest
	// Pretend the last migration has not run: only its record goes, so
	// nothing could apply it again without failing, and none must try.
	execSQL(t, c, "DELETE FROM schema_migrations WHERE version = ?", latest)
	for _, access := range []app.Access{app.Existing, app.Create} {
		_, _, err := app.OpenStore(ctx, c, access)
		if !errors.Is(err, store.ErrSchemaOutdated) || !strings.Contains(err.Error(), "tessera migrate") {
			t.Fatalf("access %d: %v; want ErrSchemaOutdated saying to run tessera migrate", access, err)
		}
	}
}

// TestNewerSchemaRefused: serve does not start on a store a newer binary
// migrated.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	info := create(t, c)
	execSQL(t, c, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)", info.Schema.Latest+1)
	for _, access := range []app.Access{app.Existing, app.Create, app.Migrate} {
		if _, err := app.New(ctx, c, app.Options{Access: access, AdminToken: adminToken}); !errors.Is(err, store.ErrSchemaNewer) {
			t.Fatalf("New (access %d): %v; want ErrSchemaNewer", access, err)
		}
	}
}

// TestServe: a first start creates everything serve needs and answers;
// Run stops when its context ends.
func TestServe(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !a.AdminTokenCreated || !a.Keyring.MasterCreated || len(a.StoreInfo.Applied) == 0 {
		t.Fatalf("first start: token created %v, master key created %v, applied %v", a.AdminTokenCreated, a.Keyring.MasterCreated, a.StoreInfo.Applied)
	}
	tok, _, _, err := app.AdminToken(c)
	if err != nil {
		t.Fatal(err)
	}
	if w := do(a.Public(), "GET", "/.well-known/jwks.json", "", ""); w.Code != 200 {
		t.Fatalf("jwks: %d", w.Code)
	}
	if w := do(a.Admin(), "GET", "/admin/v1/users", "", "Bearer "+tok); w.Code != 200 {
		t.Fatalf("admin with the generated token: %d", w.Code)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	cancel()
	// Cancelled before the session manager's start-up read, Run reports
	// the cancellation; after it, the final flush's result (nil here).
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
}

// TestRefreshReuseWiring: a reused refresh token is counted as a theft
// signal and its session leaves this node's cache at once, wherever the
// server is built (serve and the bench fixture once wired this apart).
func TestRefreshReuseWiring(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	c.Policy.Tokens.RefreshGrace = 0 // any second presentation is reuse
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Auth.CreateUser(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	cl, _, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "app", Grants: []string{oauth.GrantRefreshToken}, Public: true, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	w := do(a.Public(), "POST", "/v1/login", `{"username":"alice","password":"correct horse battery staple","delivery":"token","client_id":"`+cl.ID+`"}`, "")
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	refresh := between(w.Body.String(), `"refresh_token":"`, `"`)
	if a.Sessions.CacheLen() != 1 {
		t.Fatalf("cache holds %d sessions after login, want 1", a.Sessions.CacheLen())
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {cl.ID}}.Encode()
	if w := do(a.Public(), "POST", "/oauth2/token", form, ""); w.Code != 200 {
		t.Fatalf("first refresh: %d %s", w.Code, w.Body)
	}
	if w := do(a.Public(), "POST", "/oauth2/token", form, ""); w.Code != 400 {
		t.Fatalf("reuse: %d %s", w.Code, w.Body)
	}
	if n := a.Sessions.CacheLen(); n != 0 {
		t.Errorf("the reused family's session is still cached (%d entries)", n)
	}
	m := do(a.Admin(), "GET", "/metrics", "", "")
	if !strings.Contains(m.Body.String(), "tessera_refresh_reuse_total 1") {
		t.Errorf("reuse not counted:\n%s", grep(m.Body.String(), "reuse"))
	}
}

func do(h http.Handler, method, path, body, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	switch {
	case strings.HasPrefix(body, "{"):
		req.Header.Set("Content-Type", "application/json")
	case body != "":
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func between(s, start, end string) string {
	_, after, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(after, end)
	return v
}

func grep(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDenylistLoadedBeforeServing: New loads the revocation feed's live
// denials before it returns, so a server never answers before it knows what
// was revoked before it started. After New, the follower judges a denied and
// a clean token from memory even when the store has gone away; had the load
// been left to the first request, both answers would be errors.
func TestDenylistLoadedBeforeServing(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	create(t, c)
	st, err := store.Open(ctx, app.StoreURL(c))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.DenyAccessToken(ctx, "jti-revoked", "u1", now.Add(time.Hour), now, "token_revoked"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	a, err := app.New(ctx, c, app.Options{AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	a.Store.Close() // the store goes away once the server has started
	fol := a.Sessions.Follower()
	if denied, err := fol.Denied(ctx, "jti-revoked"); !denied || err != nil {
		t.Fatalf("Denied(revoked) = %v, %v; want true, nil from the denylist loaded by New", denied, err)
	}
	if denied, err := fol.Denied(ctx, "jti-clean"); denied || err != nil {
		t.Fatalf("Denied(clean) = %v, %v; want false, nil", denied, err)
	}
}

// A data folder an older version (or a careless mkdir) left readable by
// others is tightened to 0700, its database to 0600; a shared folder
// (world-writable, such as /tmp) is refused, not changed (issue 10, L6).
func TestDataFolderTightened(t *testing.T) {
	c := testConfig(t)
	create(t, c)
	db := filepath.Join(c.Data, "tessera.db")
	if err := os.Chmod(c.Data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, access := range []app.Access{app.Existing, app.Migrate} {
		st, _, err := app.OpenStore(context.Background(), c, access)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if fi, err := os.Stat(c.Data); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("access %d: data folder %v %v, want 0700", access, fi.Mode(), err)
		}
		if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("access %d: database %v %v, want 0600", access, fi.Mode(), err)
		}
		os.Chmod(c.Data, 0o750)
	}

	shared := testConfig(t)
	if err := os.Mkdir(shared.Data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared.Data, 0o1777); err != nil {
		t.Fatal(err)
	}
	_, _, err := app.OpenStore(context.Background(), shared, app.Migrate)
	if err == nil || !strings.Contains(err.Error(), "shared") {
		t.Fatalf("OpenStore in a world-writable folder: %v, want a refusal", err)
	}
	if fi, _ := os.Stat(shared.Data); fi.Mode().Perm() != 0o777 {
		t.Fatalf("the shared folder was changed: %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(shared.Data, "tessera.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a database was created in the shared folder: %v", err)
	}
}

// TestVerifierMaxLifetimeIsAccessTTL: the server's verifier refuses a token
// signed with its own key whose exp − iat exceeds policy.tokens.access_ttl
// (plus leeway), well below the verifier's 1 h default (issue 10, M2(c)).
func TestVerifierMaxLifetimeIsAccessTTL(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	c.Policy.Tokens.AccessTTL = config.Duration(time.Minute)
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Auth.CreateUser(ctx, "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	w := do(a.Public(), "POST", "/v1/login", `{"username":"alice","password":"correct horse battery staple","delivery":"token"}`, "")
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	issued, err := a.Verifier.Verify(between(w.Body.String(), `"access_token":"`, `"`))
	if err != nil {
		t.Fatal(err)
	}
	k, err := a.Keys.Active()
	if err != nil {
		t.Fatal(err)
	}
	whoami := func(life time.Duration) int {
		t.Helper()
		cl := *issued
		cl.Expiry = cl.IssuedAt + int64(life.Seconds())
		tok, err := accesstoken.Mint(cl, k.KID, k.Alg, k.Key)
		if err != nil {
			t.Fatal(err)
		}
		return do(a.Public(), "GET", "/v1/session", "", "Bearer "+tok).Code
	}
	if code := whoami(time.Minute); code != 200 {
		t.Fatalf("a token living access_ttl: %d", code)
	}
	if code := whoami(10 * time.Minute); code != 401 {
		t.Fatalf("a token living 10 × access_ttl: %d, want 401", code)
	}
}

// TestCreateNeedsFolder: the commands that add records create a database
// only in a folder that exists; a mistyped --data, or a --store
// sqlite:PATH in a missing folder, is an error that creates nothing,
// while serve and migrate (Migrate) create the folder on first start.
func TestCreateNeedsFolder(t *testing.T) {
	ctx := context.Background()
	c := testConfig(t)
	if _, _, err := app.OpenStore(ctx, c, app.Create); !errors.Is(err, app.ErrNoDataFolder) || !strings.Contains(err.Error(), "--data") {
		t.Fatalf("Create in a missing folder: %v", err)
	}
	if _, err := os.Stat(c.Data); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the data folder was created: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "missing")
	c.Store = "sqlite:" + filepath.Join(dir, "tessera.db")
	if _, _, err := app.OpenStore(ctx, c, app.Create); !errors.Is(err, app.ErrNoDataFolder) || !strings.Contains(err.Error(), "--store") {
		t.Fatalf("Create with sqlite: in a missing folder: %v", err)
	}
	st, _, err := app.OpenStore(ctx, c, app.Migrate)
	if err != nil {
		t.Fatalf("Migrate with sqlite: in a missing folder: %v", err)
	}
	st.Close()
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("sqlite: folder: %v %v", fi, err)
	}
}
