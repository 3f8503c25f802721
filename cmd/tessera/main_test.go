package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	// The bound only ends a command that should have exited at once (a
	// serve that was not refused) instead of hanging the test run.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(args, "--data", data)...)
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
	out, _, _ = tessera(t, data, "", nil, "session", "list", "-o", "json")
	var live []struct {
		ID, UserID, Username string
		CreatedAt            time.Time `json:"created_at"`
	}
	if err := json.Unmarshal([]byte(out), &live); err != nil || len(live) != 2 || live[0].Username != "bob" || live[0].CreatedAt.IsZero() {
		t.Fatalf("session list -o json: %v\n%s", err, out)
	}
	for _, s := range live {
		if s.ID == aID {
			t.Fatalf("session list -o json shows the revoked session:\n%s", out)
		}
	}
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

// TestCLI runs each case on a data folder of its own, set up by the case's
// own commands, so any case runs alone (go test -run 'TestCLI/user_list')
// and in any order.
func TestCLI(t *testing.T) {
	var (
		migrated = [][]string{{"migrate"}}
		withDan  = [][]string{{"migrate"}, {"user", "add", "dan", "--password-stdin"}}
	)
	tests := []struct {
		name     string
		setup    [][]string // commands run first, each must succeed (stdin: pw)
		stdin    string
		env      []string
		args     []string
		code     int
		out, err string
	}{
		{"no command", nil, "", nil, nil, 2, "", "Usage"},
		{"unknown command", nil, "", nil, []string{"frobnicate"}, 2, "", "unknown command"},
		{"help", nil, "", nil, []string{"help"}, 0, "tessera serve", ""},
		{"migrate", nil, "", nil, []string{"migrate"}, 0, "schema at version ", ""},
		{"keys list", [][]string{{"migrate"}, {"client", "add", "billing"}}, "", nil, []string{"keys", "list"}, 0, "active", ""},
		{"keys list before any key", migrated, "", nil, []string{"keys", "list"}, 0, "KID", "no signing keys yet"},
		{"client add", migrated, "", nil, []string{"client", "add", "billing", "--scope", "a,b", "--scope", "c"}, 0, "client_secret: tsc_", ""},
		{"client add resource server", [][]string{{"migrate"}, {"client", "add", "notes-api", "--introspect", "--audience", "https://notes.example"}}, "", nil, []string{"client", "list"}, 0, "introspect\taudience=https://notes.example", ""},
		{"client add first party", [][]string{{"migrate"}, {"client", "add", "spa", "--public", "--grant", "refresh_token", "--first-party"}}, "", nil, []string{"client", "list"}, 0, "spa\tpublic\tgrants=refresh_token\tscopes=\tfirst_party", ""},
		{"client add verifier", [][]string{{"migrate"}, {"client", "add", "notes-api", "--revocation-feed"}}, "", nil, []string{"client", "list", "--output", "json"}, 0, `"revocation_feed": true`, ""},
		{"client add public verifier", migrated, "", nil, []string{"client", "add", "spa", "--public", "--grant", "refresh_token", "--revocation-feed"}, 1, "", "cannot read the revocation feed"},
		{"client add bad resource", migrated, "", nil, []string{"client", "add", "app", "--resource", "notes"}, 1, "", "absolute URI"},
		{"client add public", migrated, "", nil, []string{"client", "add", "spa", "--public", "--grant", "refresh_token"}, 0, "client_id:", ""},
		{"client add own secret", migrated, strings.Repeat("s", 40) + "\n", nil, []string{"client", "add", "own", "--secret-stdin"}, 0, "client_id:", ""},
		{"client add short secret", migrated, "short\n", nil, []string{"client", "add", "own2", "--secret-stdin"}, 1, "", "32 to 512 characters"},
		{"client add secret with a plus", migrated, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+b\n", nil, []string{"client", "add", "own3", "--secret-stdin"}, 1, "", "unreserved"},
		{"client add bad grant", migrated, "", nil, []string{"client", "add", "x", "--grant", "password"}, 1, "", "unsupported grant"},
		{"client list", [][]string{{"migrate"}, {"client", "add", "billing", "--scope", "a,b", "--scope", "c"}}, "", nil, []string{"client", "list"}, 0, "grants=client_credentials\tscopes=a,b,c", ""},
		{"keys rotate", migrated, "", nil, []string{"keys", "rotate"}, 0, "active key is now", ""},
		{"keys rotate twice", [][]string{{"migrate"}, {"keys", "rotate"}}, "", nil, []string{"keys", "rotate"}, 1, "", "--force"},
		{"keys rotate twice, forced", [][]string{{"migrate"}, {"keys", "rotate"}}, "", nil, []string{"keys", "rotate", "--force"}, 0, "active key is now", "forcing"},
		{"keys revoke unknown", migrated, "", nil, []string{"keys", "revoke", "nope"}, 1, "", "no signing key"},
		{"keys revoke without kid", migrated, "", nil, []string{"keys", "revoke"}, 2, "", "usage"},
		{"keys rotate without data", nil, "", nil, []string{"keys", "rotate"}, 1, "", "no Tessera data"},
		{"keys nonsense", nil, "", nil, []string{"keys", "delete"}, 2, "", "usage"},
		{"bad master key", migrated, "", []string{"TESSERA_MASTER_KEY=short"}, []string{"keys", "rotate"}, 1, "", "master key"},
		{"user add without name", nil, "", nil, []string{"user", "add"}, 2, "", "usage"},
		{"weak password", migrated, "password\n", nil, []string{"user", "add", "dan", "--password-stdin"}, 1, "", "password refused"},
		{"no password", migrated, "", nil, []string{"user", "add", "dan", "--password-stdin"}, 1, "", "no password"},
		{"bad username", migrated, pw + "\n", nil, []string{"user", "add", "bad name", "--password-stdin"}, 1, "", "usernames are"},
		{"user add, no such folder", nil, pw + "\n", nil, []string{"user", "add", "dan", "--password-stdin"}, 1, "", "no such data folder"},
		{"client add, no such folder", nil, "", nil, []string{"client", "add", "billing"}, 1, "", "no such data folder"},
		{"user add", migrated, pw + "\n", nil, []string{"user", "add", "dan", "--password-stdin"}, 0, "-", ""},
		{"user add twice", withDan, pw + "\n", nil, []string{"user", "add", "Dan", "--password-stdin"}, 1, "", "already exists"},
		{"user list", withDan, "", nil, []string{"user", "list"}, 0, "dan", ""},
		{"revoke unknown", migrated, "", nil, []string{"session", "revoke", "nope"}, 1, "", "no session"},
		{"revoke unknown user", migrated, "", nil, []string{"session", "revoke", "--user", "zed"}, 1, "", "no user"},
		{"policy show", nil, "", []string{"TESSERA_POLICY_SESSION_IDLE_TIMEOUT=15m"}, []string{"policy", "show"}, 0, "idle_timeout: 15m0s", ""},
		{"bad env", nil, "", []string{"TESSERA_POLICY_SESSION_IDLE_TIMEOUT=soon"}, []string{"policy", "show"}, 1, "", "IDLE_TIMEOUT"},
		{"bad flag", nil, "", nil, []string{"serve", "--nope"}, 2, "", "flag provided but not defined"},
		{"user mfa reset", withDan, "", nil, []string{"user", "mfa", "reset", "dan"}, 0, "reset the second factors of dan; revoked 0 session(s)", ""},
		{"user mfa reset unknown", migrated, "", nil, []string{"user", "mfa", "reset", "zed"}, 1, "", "no user"},
		{"user mfa reset without name", nil, "", nil, []string{"user", "mfa", "reset"}, 2, "", "usage"},
		{"policy show mfa", nil, "", []string{"TESSERA_POLICY_MFA_MODE=required"}, []string{"policy", "show"}, 0, "mode: required", ""},
		{"policy mfa admins", nil, "", []string{"TESSERA_POLICY_MFA_MODE=admins"}, []string{"policy", "show"}, 1, "", "no administrator accounts"},
		{"one-dash flags", migrated, pw + "\n", nil, []string{"user", "add", "-password-stdin", "fay", "-config="}, 0, "-", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "tessera-data")
			for _, args := range tt.setup {
				if out, errOut, code := tessera(t, data, pw+"\n", nil, args...); code != 0 {
					t.Fatalf("setup %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
				}
			}
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

// notExist fails the test if path exists: the command that ran must not
// have created it.
func notExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		entries, _ := os.ReadDir(path)
		t.Fatalf("%s exists (%v), holding %v", path, err, entries)
	}
}

func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"user", "--help"}, {"help", "user"}, {"session", "-h"}, {"client", "--help"}, {"keys", "--help"}, {"policy", "--help"},
		{"user", "add", "--help"}, {"help", "user", "add"}, {"session", "revoke", "--help"}, {"serve", "--help"},
		{"client", "add", "--help"}, {"keys", "rotate", "-h"}, {"migrate", "--help"}, {"version", "--help"}, {"backup", "--help"}, {"restore", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "tessera-data")
			out, errOut, code := tessera(t, data, "", nil, args...)
			if code != 0 || !strings.Contains(out, "Usage:") || errOut != "" {
				t.Fatalf("exit %d (want 0, help on stdout)\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			notExist(t, data)
		})
	}
	// Group help lists the group's verbs.
	for group, verbs := range map[string][]string{
		"":        {"serve", "migrate", "backup", "restore", "user", "session", "client", "keys", "policy", "version", "completion"},
		"user":    {"add", "list", "disable", "enable", "delete", "reset-password"},
		"session": {"list", "revoke"},
		"client":  {"add", "list", "delete", "rotate-secret"},
		"keys":    {"list", "rotate"},
		"policy":  {"show"},
	} {
		args := []string{"--help"}
		if group != "" {
			args = []string{group, "--help"}
		}
		out, _, _ := tessera(t, t.TempDir(), "", nil, args...)
		_, list, _ := strings.Cut(out, "Available Commands:")
		for _, v := range verbs {
			if !regexp.MustCompile(`(?m)^  ` + v + ` `).MatchString(list) {
				t.Errorf("tessera %s --help does not list %q:\n%s", group, v, out)
			}
		}
	}
}

// TestCLIRefusesBeforeOpening: a command line that is wrong exits 2 and
// creates nothing: no data folder, database, admin token or master key.
func TestCLIRefusesBeforeOpening(t *testing.T) {
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"user", "frob"}, `tessera user: unknown command "frob"`},
		{[]string{"usr", "list"}, `unknown command "usr"; did you mean user?`},
		{[]string{"user", "lst"}, `did you mean list?`},
		{[]string{"user"}, "Usage:"},
		{[]string{"keys", "delete"}, `unknown command "delete"`},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh"`},
		{[]string{"help", "frobnicate"}, `unknown help topic "frobnicate"`},
		{[]string{"help", "user", "frob"}, `unknown help topic "user frob"`},
		{[]string{"serve", "extra"}, `tessera serve: unexpected argument "extra"`},
		{[]string{"serve", "--nope"}, "flag provided but not defined: --nope"},
		{[]string{"migrate", "extra"}, `"extra"`},
		{[]string{"user", "add"}, "tessera user add: missing argument NAME"},
		{[]string{"user", "add", "a", "b", "--password-stdin"}, `unexpected argument "b"`},
		{[]string{"user", "add", "a", "--nope"}, "flag provided but not defined"},
		{[]string{"user", "list", "extra"}, `"extra"`},
		{[]string{"user", "list", "-o", "yaml"}, "want text or json"},
		{[]string{"session", "revoke"}, "missing argument: a session ID or --user NAME"},
		{[]string{"session", "revoke", "a", "b"}, `unexpected argument "b"`},
		{[]string{"session", "revoke", "a", "--user", "bob"}, "not both"},
		{[]string{"client", "add"}, "missing argument NAME"},
		{[]string{"backup"}, "tessera backup: missing argument FILE"},
		{[]string{"restore", "a", "b"}, `unexpected argument "b"`},
		{[]string{"user", "disable"}, "missing argument NAME"},
		{[]string{"user", "reset-password", "a", "--nope"}, "flag provided but not defined"},
		{[]string{"client", "rotate-secret", "x", "--overlap", "soon"}, "invalid argument"},
		{[]string{"client", "add", "a", "b"}, `unexpected argument "b"`},
		{[]string{"keys", "rotate", "now"}, `"now"`},
		{[]string{"keys", "list", "-x"}, "flag provided but not defined: -x"},
		{[]string{"policy", "show", "extra"}, `"extra"`},
		{[]string{"version", "extra"}, `"extra"`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "tessera-data")
			out, errOut, code := tessera(t, data, pw+"\n", nil, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.err) {
				t.Fatalf("exit %d (want 2, %q on stderr)\nstdout: %s\nstderr: %s", code, tt.err, out, errOut)
			}
			notExist(t, data)
		})
	}
}

// TestCLIReadOnlyNeedsData: the commands that only read refuse a data
// folder or database that does not exist, and do not create it.
func TestCLIReadOnlyNeedsData(t *testing.T) {
	readers := [][]string{
		{"user", "list"}, {"user", "list", "-o", "json"}, {"session", "list"}, {"session", "list", "--user", "bob"},
		{"client", "list"}, {"client", "list", "--output", "json"}, {"keys", "list"}, {"session", "revoke", "--user", "bob"},
	}
	for _, args := range readers {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			// No data folder at all.
			data := filepath.Join(t.TempDir(), "tessera-data")
			_, errOut, code := tessera(t, data, "", nil, args...)
			if code != 1 || !strings.Contains(errOut, "no Tessera data in "+data) {
				t.Fatalf("exit %d (want 1)\nstderr: %s", code, errOut)
			}
			notExist(t, data)
			// A data folder without a database.
			empty := t.TempDir()
			if _, errOut, code := tessera(t, empty, "", nil, args...); code != 1 || !strings.Contains(errOut, "no Tessera data") {
				t.Fatalf("empty folder: exit %d (want 1)\nstderr: %s", code, errOut)
			}
			notExist(t, filepath.Join(empty, "tessera.db"))
			notExist(t, filepath.Join(empty, "master-key"))
			// --store names a database that does not exist.
			db := filepath.Join(t.TempDir(), "none.db")
			if _, errOut, code := tessera(t, empty, "", nil, append(args, "--store", "sqlite:"+db)...); code != 1 || !strings.Contains(errOut, "no Tessera data in "+db) {
				t.Fatalf("--store: exit %d (want 1)\nstderr: %s", code, errOut)
			}
			notExist(t, db)
		})
	}
	// Commands that need no store create none.
	for _, args := range [][]string{{"policy", "show"}, {"version"}, {"--version"}, {"completion", "bash"}} {
		data := filepath.Join(t.TempDir(), "tessera-data")
		if _, errOut, code := tessera(t, data, "", nil, args...); code != 0 {
			t.Fatalf("%q: exit %d\nstderr: %s", args, code, errOut)
		}
		notExist(t, data)
	}
}

func TestCLIOutputJSON(t *testing.T) {
	data := filepath.Join(t.TempDir(), "tessera-data")
	for _, args := range [][]string{
		{"migrate"},
		{"user", "add", "dan", "--password-stdin"},
		{"client", "add", "billing", "--scope", "a,b"},
		{"client", "add", "spa", "--public", "--grant", "refresh_token"},
		{"keys", "rotate"},
	} {
		if out, errOut, code := tessera(t, data, pw+"\n", nil, args...); code != 0 {
			t.Fatalf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	// list decodes the output of args into []map and checks that every
	// entry has the fields, and that the times are RFC 3339.
	list := func(t *testing.T, fields []string, times []string, args ...string) []map[string]any {
		t.Helper()
		out, errOut, code := tessera(t, data, "", nil, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d\n%s", args, code, errOut)
		}
		var v []map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, out)
		}
		for _, e := range v {
			for _, f := range fields {
				if _, ok := e[f]; !ok {
					t.Errorf("%q: an entry lacks %q: %v", args, f, e)
				}
			}
			for _, f := range times {
				if s, _ := e[f].(string); s != "" {
					if _, err := time.Parse(time.RFC3339, s); err != nil {
						t.Errorf("%q: %s: %v", args, f, err)
					}
				}
			}
		}
		return v
	}
	users := list(t, []string{"id", "username", "created_at", "disabled", "must_change_password"}, []string{"created_at"}, "user", "list", "-o", "json")
	if len(users) != 1 || users[0]["username"] != "dan" {
		t.Fatalf("users: %v", users)
	}
	clients := list(t, []string{"client_id", "client_name", "client_type", "grant_types", "scopes", "token_format"}, []string{"created_at"},
		"client", "list", "--output", "json")
	// The first party (configured, not stored) comes first.
	if len(clients) != 3 || clients[0]["client_id"] != "tessera" || clients[0]["client_type"] != "public" || fmt.Sprint(clients[0]["grant_types"]) != "[refresh_token]" ||
		clients[1]["client_name"] != "billing" || fmt.Sprint(clients[1]["scopes"]) != "[a b]" || clients[2]["client_type"] != "public" || clients[1]["created_at"] == nil {
		t.Fatalf("clients: %v", clients)
	}
	for _, c := range clients { // lists are arrays even when empty, never null
		if _, ok := c["scopes"].([]any); !ok {
			t.Fatalf("client %v: scopes is %#v, want an array", c["client_name"], c["scopes"])
		}
	}
	ks := list(t, []string{"kid", "alg", "state", "created_at", "published"}, []string{"created_at", "activated_at", "retired_at"},
		"keys", "list", "--output=json")
	if len(ks) != 3 {
		t.Fatalf("keys after one rotation: %v", ks)
	}
	// No sessions is an empty array, not null.
	if out, _, code := tessera(t, data, "", nil, "session", "list", "-o", "json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("session list -o json with no sessions: %d %q", code, out)
	}
}

func TestCLICompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_tessera", "zsh": "#compdef tessera", "fish": "complete -c tessera"} {
		out, errOut, code := tessera(t, t.TempDir(), "", nil, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, stdout lacks %q\nstderr: %s", shell, code, want, errOut)
		}
	}
	// The verbs complete.
	out, err := exec.Command(binary, "__complete", "user", "").Output()
	if err != nil || !strings.Contains(string(out), "add") || !strings.Contains(string(out), "list") {
		t.Errorf("completing 'tessera user ': %q", out)
	}
}

func TestCLIVersion(t *testing.T) {
	out, _, code := tessera(t, t.TempDir(), "", nil, "version")
	if code != 0 || !strings.HasPrefix(out, "tessera ") || !strings.Contains(out, "commit") || !strings.Contains(out, "date") {
		t.Fatalf("version: %d %q", code, out)
	}
}

func TestLegacyFlags(t *testing.T) {
	root := (&cli{}).newRootCmd()
	for _, tt := range []struct{ in, want string }{
		{"user add -password-stdin alice -data d", "user add --password-stdin alice --data d"},
		{"serve -listen=:1 -h", "serve --listen=:1 -h"},
		{"client add x -scope -data", "client add x --scope -data"}, // a flag's value stays
		{"user add -- -data", "user add -- -data"},
		{"user list -o json -ojson -nope", "user list -o json -ojson -nope"},
	} {
		if got := strings.Join(legacyFlags(root, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("legacyFlags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
