package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
)

// node finds Node.js and interop/js's installed packages (npm ci in
// interop/js; .ci/run does it), or skips visibly; under CI=true it fails.
func node(t *testing.T) string {
	t.Helper()
	why := ""
	bin, err := exec.LookPath("node")
	if err != nil {
		why = "node is not installed"
	} else if _, err := os.Stat(filepath.Join("js", "node_modules", "oauth4webapi")); err != nil {
		why = "interop/js/node_modules is missing (run: cd interop/js && npm ci)"
	}
	if why == "" {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; the npm client tests cannot run", why)
	}
	t.Skipf("SKIP: %s; the npm client tests did not run", why)
	return ""
}

// liveServer is a Tessera on a loopback port whose issuer is its own URL (as
// strict clients check: the metadata's issuer must be the URL they
// discovered from), with a user and a confidential client allowed to
// introspect.
type liveServer struct {
	app                  *app.App
	client               store.Client
	issuer               string
	clientID, secret     string
	username, password   string
	adminURL, adminToken string
}

func startLive(t *testing.T) *liveServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Data = t.TempDir()
	c.Listen = ln.Addr().String()
	const adminToken = "tsx_interop-js-admin-token-0123456789abcdef"
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, c, app.Options{Access: app.Migrate, AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	srv := &http.Server{Handler: a.Public(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	adm := httptest.NewServer(a.Admin())
	t.Cleanup(func() {
		srv.Close()
		adm.Close()
		cancel()
		<-done
		a.Close()
	})
	s := &liveServer{app: a, issuer: c.Issuer(), username: "nora", password: "correct horse battery staple", adminURL: adm.URL, adminToken: adminToken}
	body, _ := json.Marshal(map[string]string{"username": s.username, "password": s.password})
	req, _ := http.NewRequest("POST", adm.URL+"/admin/v1/users", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create user: %v %v", res, err)
	}
	res.Body.Close()
	cl, secret, err := a.OAuth.RegisterClient(ctx, oauth.ClientSpec{Name: "worker", Scopes: []string{"jobs:read", "jobs:run"}, Introspect: true})
	if err != nil {
		t.Fatal(err)
	}
	s.client, s.clientID, s.secret = cl, cl.ID, secret
	return s
}

// runNode runs interop/js/script with env and returns its JSON output.
func runNode(t *testing.T, bin, script string, env ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, script)
	cmd.Dir = "js"
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s%s", script, err, stdout.String(), stderr.String())
	}
	var out map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &out); err != nil {
		t.Fatalf("node %s printed %q: %v", script, stdout.String(), err)
	}
	t.Logf("node %s: %s", script, strings.TrimSpace(stdout.String()))
	return out
}

func (s *liveServer) env() []string {
	return []string{"TESSERA_ISSUER=" + s.issuer, "TESSERA_CLIENT_ID=" + s.clientID, "TESSERA_CLIENT_SECRET=" + s.secret,
		"TESSERA_USERNAME=" + s.username, "TESSERA_PASSWORD=" + s.password}
}

// TestNPMClients: oauth4webapi and openid-client, strict implementations
// of RFC 8414, 6749, 7662 and 7009, discover Tessera with algorithm
// 'oauth2', get client_credentials tokens, introspect and revoke them, and
// refresh the first party's tokens as client_id=tessera (docs/clients.md).
func TestNPMClients(t *testing.T) {
	bin := node(t)
	s := startLive(t)
	ttl := s.app.Config.Policy.Tokens.AccessTTL.D().Seconds()
	for _, script := range []string{"oauth4webapi.mjs", "openid-client.mjs"} {
		t.Run(script, func(t *testing.T) {
			out := runNode(t, bin, script, s.env()...)
			want := map[string]any{
				"issuer": s.issuer, "cc_token_type": "bearer", "cc_scope": "jobs:read", "cc_expires_in": ttl,
				"introspect_active_before": true, "introspect_client_id": s.clientID, "introspect_active_after": false,
				"refresh_rotated": true, "refresh_expires_in": ttl,
			}
			for k, v := range want {
				got := out[k]
				if g, ok := got.(string); ok && k == "cc_token_type" {
					got = strings.ToLower(g) // both libraries lower-case it
				}
				if got != v {
					t.Errorf("%s: %v, want %v", k, out[k], v)
				}
			}
		})
	}
}

// TestJoseVerifiesOurTokens: npm jose's createRemoteJWKSet + jwtVerify
// verifies a Tessera JWT access token against the published JWKS, with
// issuer, audience and typ checked, and refuses another audience and a
// tampered token.
func TestJoseVerifiesOurTokens(t *testing.T) {
	bin := node(t)
	s := startLive(t)
	cl, _, err := s.app.OAuth.RegisterClient(context.Background(), oauth.ClientSpec{Name: "svc", Scopes: []string{"jobs:read"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.app.OAuth.ClientCredentials(context.Background(), cl, "")
	if err != nil {
		t.Fatal(err)
	}
	active, _ := s.app.Keys.Active()
	out := runNode(t, bin, "jose.mjs", append(s.env(), "TESSERA_ACCESS_TOKEN="+tok.AccessToken, "TESSERA_AUDIENCE="+s.app.Config.Audience())...)
	want := map[string]any{
		"alg": string(active.Alg), "kid": active.KID, "typ": "at+jwt", "iss": s.issuer, "sub": cl.ID, "client_id": cl.ID, "scope": "jobs:read",
		"wrong_audience": "ERR_JWT_CLAIM_VALIDATION_FAILED", "tampered": "signature",
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("%s: %v, want %v", k, out[k], v)
		}
	}
}
