package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binary string

// TestMain builds the real binary once; the tests drive it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tessera-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "tessera")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cheap keeps password hashing fast in these tests; its cost is benchmarked elsewhere.
var cheap = []string{"TESSERA_POLICY_PASSWORD_ARGON2_MEMORY_KIB=64", "TESSERA_POLICY_PASSWORD_ARGON2_ITERATIONS=1"}

func tessera(t *testing.T, data, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--data", data)...)
	cmd.Env = append(append(os.Environ(), cheap...), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

type running struct {
	cmd           *exec.Cmd
	public, admin string
	banner        string
}

var addrRE = regexp.MustCompile(`(public|admin) API\s+https?://(\S+)`)

// serve starts `tessera serve` on free ports and waits until it listens.
func serve(t *testing.T, data string, env ...string) *running {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--data", data, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	cmd.Env = append(append(os.Environ(), cheap...), env...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &running{cmd: cmd}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		line := sc.Text()
		r.banner += line + "\n"
		if m := addrRE.FindStringSubmatch(line); m != nil {
			if m[1] == "public" {
				r.public = "http://" + m[2]
			} else {
				r.admin = "http://" + m[2]
			}
		}
		if strings.HasPrefix(line, "  ready") {
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if r.public == "" || r.admin == "" {
		t.Fatalf("serve did not report its addresses:\n%s", r.banner)
	}
	return r
}

func post(t *testing.T, url, body string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(t, req)
}

func get(t *testing.T, url string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res, m
}

const pw = "correct horse battery staple"

func login(t *testing.T, r *running, user string) (token, id string) {
	t.Helper()
	res, m := post(t, r.public+"/v1/login", `{"username":"`+user+`","password":"`+pw+`","delivery":"token"}`)
	if res.StatusCode != 200 {
		t.Fatalf("login: %d %v", res.StatusCode, m)
	}
	return m["access_token"].(string), m["session"].(map[string]any)["id"].(string)
}

func whoami(t *testing.T, r *running, tok string) int {
	t.Helper()
	res, _ := get(t, r.public+"/v1/session", "Authorization", "Bearer "+tok)
	return res.StatusCode
}

func TestFirstRun(t *testing.T) {
	data := filepath.Join(t.TempDir(), "tessera-data")
	r := serve(t, data)
	for _, want := range []string{"no users yet", "tessera user add", "generated the admin token", "generated the master key", "SQLite"} {
		if !strings.Contains(r.banner, want) {
			t.Errorf("first-run output lacks %q:\n%s", want, r.banner)
		}
	}
	for _, secret := range []string{"admin-token", "master-key"} {
		fi, err := os.Stat(filepath.Join(data, secret))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s file: %v %v", secret, fi, err)
		}
	}
	if res, m := get(t, r.public+"/.well-known/jwks.json"); res.StatusCode != 200 || len(m["keys"].([]any)) != 2 {
		t.Fatalf("jwks: %d %v", res.StatusCode, m)
	}
	if fi, _ := os.Stat(data); fi.Mode().Perm() != 0o700 {
		t.Fatalf("data folder mode %v, want 0700", fi.Mode().Perm())
	}
	tok, _ := os.ReadFile(filepath.Join(data, "admin-token"))
	if strings.Contains(r.banner, strings.TrimSpace(string(tok))) {
		t.Fatal("the admin token was printed")
	}
	res, m := post(t, r.admin+"/admin/v1/users", `{"username":"alice","password":"`+pw+`"}`, "Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	if res.StatusCode != 201 || m["username"] != "alice" {
		t.Fatalf("admin create user: %d %v", res.StatusCode, m)
	}
	login(t, r, "alice")
	if res, _ := get(t, r.public+"/readyz"); res.StatusCode != 200 {
		t.Fatalf("readyz: %d", res.StatusCode)
	}
}

func TestCLIRevocationReachesRunningServer(t *testing.T) {
	data := t.TempDir()
	out, errOut, code := tessera(t, data, pw+"\n", nil, "user", "add", "bob", "--password-stdin")
	if code != 0 || len(strings.TrimSpace(out)) != 36 {
		t.Fatalf("user add: %d %q %q", code, out, errOut)
	}
	r := serve(t, data)
	a, aID := login(t, r, "bob")
	b, _ := login(t, r, "bob")
	c, _ := login(t, r, "bob")
	if whoami(t, r, a) != 200 {
		t.Fatal("fresh session refused")
	}
	out, _, _ = tessera(t, data, "", nil, "session", "list", "--user", "bob")
	if strings.Count(out, "bob") != 3 || !strings.Contains(out, aID) {
		t.Fatalf("session list:\n%s", out)
	}
	if _, e, code := tessera(t, data, "", nil, "session", "revoke", aID); code != 0 {
		t.Fatalf("session revoke: %d %s", code, e)
	}
	// The server learns of it from the revocation feed within one poll (1s).
	waitFor(t, 5*time.Second, func() bool { return whoami(t, r, a) == 401 })
	if whoami(t, r, b) != 200 {
		t.Fatal("another session was revoked")
	}
	if out, _, code := tessera(t, data, "", nil, "session", "revoke", "--user", "bob"); code != 0 || !strings.Contains(out, "revoked 2") {
		t.Fatalf("revoke --user: %d %q", code, out)
	}
	waitFor(t, 5*time.Second, func() bool { return whoami(t, r, b) == 401 && whoami(t, r, c) == 401 })
}

// waitFor polls a condition that another process makes true.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRevocationSurvivesKill9(t *testing.T) {
	data := t.TempDir()
	tessera(t, data, pw+"\n", nil, "user", "add", "carol", "--password-stdin")
	r := serve(t, data)
	keep, _ := login(t, r, "carol")
	gone, _ := login(t, r, "carol")
	res, _ := post(t, r.public+"/v1/logout", "", "Authorization", "Bearer "+gone)
	if res.StatusCode != 204 {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	// One access token revoked alone (RFC 7009): its session lives on, so
	// only the jti denial, reloaded at start, can refuse it afterwards.
	denied, _ := login(t, r, "carol")
	req, _ := http.NewRequest("POST", r.public+"/oauth2/revoke", strings.NewReader("token="+denied))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, m := send(t, req); res.StatusCode != 200 {
		t.Fatalf("revoke: %d %v", res.StatusCode, m)
	}
	// Crash right after the acknowledgements.
	r.cmd.Process.Signal(syscall.SIGKILL)
	r.cmd.Wait()

	r = serve(t, data)
	if whoami(t, r, gone) != 401 {
		t.Fatal("an acknowledged logout was lost in a crash")
	}
	if whoami(t, r, denied) != 401 {
		t.Fatal("a revoked access token was accepted after a crash and restart")
	}
	if whoami(t, r, keep) != 200 {
		t.Fatal("a live session was lost in a crash")
	}
}

func TestCLI(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name     string
		stdin    string
		env      []string
		args     []string
		code     int
		out, err string
	}{
		{"no command", "", nil, nil, 2, "", "Usage"},
		{"unknown command", "", nil, []string{"frobnicate"}, 2, "", "unknown command"},
		{"help", "", nil, []string{"help"}, 0, "tessera serve", ""},
		{"migrate", "", nil, []string{"migrate"}, 0, "schema at version 7", ""},
		{"keys list", "", nil, []string{"keys", "list"}, 0, "active", ""},
		{"client add", "", nil, []string{"client", "add", "billing", "--scope", "a,b", "--scope", "c"}, 0, "client_secret: tsc_", ""},
		{"client add public", "", nil, []string{"client", "add", "spa", "--public", "--grant", "refresh_token"}, 0, "client_id:", ""},
		{"client add own secret", strings.Repeat("s", 40) + "\n", nil, []string{"client", "add", "own", "--secret-stdin"}, 0, "client_id:", ""},
		{"client add short secret", "short\n", nil, []string{"client", "add", "own2", "--secret-stdin"}, 1, "", "at least 32"},
		{"client add bad grant", "", nil, []string{"client", "add", "x", "--grant", "password"}, 1, "", "unsupported grant"},
		{"client list", "", nil, []string{"client", "list"}, 0, "grants=client_credentials\tscopes=a,b,c", ""},
		{"keys rotate", "", nil, []string{"keys", "rotate"}, 0, "active key is now", ""},
		{"keys nonsense", "", nil, []string{"keys", "delete"}, 2, "", "usage"},
		{"bad master key", "", []string{"TESSERA_MASTER_KEY=short"}, []string{"keys", "list"}, 1, "", "master key"},
		{"user add without name", "", nil, []string{"user", "add"}, 2, "", "usage"},
		{"weak password", "password\n", nil, []string{"user", "add", "dan", "--password-stdin"}, 1, "", "password refused"},
		{"no password", "", nil, []string{"user", "add", "dan", "--password-stdin"}, 1, "", "no password"},
		{"bad username", pw + "\n", nil, []string{"user", "add", "bad name", "--password-stdin"}, 1, "", "usernames are"},
		{"user add", pw + "\n", nil, []string{"user", "add", "dan", "--password-stdin"}, 0, "-", ""},
		{"user add twice", pw + "\n", nil, []string{"user", "add", "Dan", "--password-stdin"}, 1, "", "already exists"},
		{"user list", "", nil, []string{"user", "list"}, 0, "dan", ""},
		{"revoke unknown", "", nil, []string{"session", "revoke", "nope"}, 1, "", "no session"},
		{"revoke unknown user", "", nil, []string{"session", "revoke", "--user", "zed"}, 1, "", "no user"},
		{"policy show", "", []string{"TESSERA_POLICY_SESSION_IDLE_TIMEOUT=15m"}, []string{"policy", "show"}, 0, "idle_timeout: 15m0s", ""},
		{"bad env", "", []string{"TESSERA_POLICY_SESSION_IDLE_TIMEOUT=soon"}, []string{"policy", "show"}, 1, "", "IDLE_TIMEOUT"},
		{"bad flag", "", nil, []string{"serve", "--nope"}, 2, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := tessera(t, data, tt.stdin, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
		})
	}
}

// TestGracefulShutdownFlushesLastSeen: SIGTERM exits 0 after writing the
// last-seen times that were still only in memory.
func TestGracefulShutdownFlushesLastSeen(t *testing.T) {
	data := t.TempDir()
	tessera(t, data, pw+"\n", nil, "user", "add", "erin", "--password-stdin")
	r := serve(t, data)
	tok, id := login(t, r, "erin")
	if whoami(t, r, tok) != 200 { // moves last-seen in memory only (touch interval 1m)
		t.Fatal("whoami")
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("serve did not exit cleanly on SIGTERM: %v", err)
	}
	r = serve(t, data)
	admin, _ := os.ReadFile(filepath.Join(data, "admin-token"))
	res, m := get(t, r.admin+"/admin/v1/sessions/"+id, "Authorization", "Bearer "+strings.TrimSpace(string(admin)))
	if res.StatusCode != 200 {
		t.Fatalf("admin get session: %d", res.StatusCode)
	}
	created, _ := time.Parse(time.RFC3339Nano, m["created_at"].(string))
	seen, _ := time.Parse(time.RFC3339Nano, m["last_seen_at"].(string))
	if !seen.After(created) {
		t.Fatalf("last_seen_at %v not after created_at %v: the shutdown flush was lost", seen, created)
	}
}
