package config

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestExampleConfig: deploy/tessera.example.yaml loads, sets every
// setting, and sets each at its default, so it cannot drift from Config.
func TestExampleConfig(t *testing.T) {
	const path = "../deploy/tessera.example.yaml"
	c, src, err := LoadSources(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := Default().Settings(nil)
	got := c.Settings(src)
	if len(got) != len(def) {
		t.Fatalf("%d settings, want %d", len(got), len(def))
	}
	for i, s := range got {
		if s.Source != SourceFile {
			t.Errorf("the example does not set %s (default %s): add it, with a comment", s.Key, def[i].Value)
		}
		if s.Value != def[i].Value {
			t.Errorf("the example sets %s: %s, but its default is %s", s.Key, s.Value, def[i].Value)
		}
	}
	// Every setting is explained: a comment above it, or above its group.
	b, _ := os.ReadFile(path)
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	var bare []string
	var check func(n *yaml.Node, prefix string, commented bool)
	check = func(n *yaml.Node, prefix string, commented bool) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := strings.TrimPrefix(prefix+"."+k.Value, ".")
			has := commented || k.HeadComment != "" || k.LineComment != ""
			if v.Kind == yaml.MappingNode {
				check(v, key, has && prefix != "")
				continue
			}
			if !has {
				bare = append(bare, key)
			}
		}
	}
	check(root.Content[0], "", false)
	// A pair such as tls_cert/tls_key shares its comment.
	for _, k := range bare {
		if k != "tls_key" && k != "admin_tls_key" && !strings.HasPrefix(k, "policy.login.") && !strings.HasPrefix(k, "forward_auth.headers.") &&
			!strings.HasPrefix(k, "policy.password.") && !strings.HasPrefix(k, "forward_auth.service_tokens.") {
			t.Errorf("%s has no comment in the example", k)
		}
	}
}

func TestSources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tessera.yaml")
	os.WriteFile(path, []byte("listen: 127.0.0.1:9000\npolicy:\n  session:\n    idle_timeout: 45m\n    max_per_user: 3\n"), 0o600)
	c, src, err := LoadSources(path, []string{"TESSERA_POLICY_SESSION_MAX_PER_USER=7", "TESSERA_STORE=postgres://tessera:hunter2@db/tessera?sslpassword=s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		value string
		src   Source
	}{
		"listen":                        {"127.0.0.1:9000", SourceFile},
		"admin_listen":                  {"127.0.0.1:8081", SourceDefault},
		"policy.session.idle_timeout":   {"45m", SourceFile},
		"policy.session.max_per_user":   {"7", SourceEnv},
		"policy.keys.rotation_interval": {"720h", SourceDefault},
		"store":                         {"postgres://tessera:REDACTED@db/tessera?sslpassword=REDACTED", SourceEnv},
	}
	var out bytes.Buffer
	for _, s := range c.Settings(src) {
		out.WriteString(s.Key + " " + s.Value + "\n")
		if w, ok := want[s.Key]; ok && (s.Value != w.value || s.Source != w.src) {
			t.Errorf("%s = %s (%s), want %s (%s)", s.Key, s.Value, s.Source, w.value, w.src)
		}
	}
	for _, secret := range []string{"hunter2", "s3cret"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("settings show the secret %q", secret)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/db":          "postgres://u:REDACTED@h:5432/db",
		"postgres://u@h/db?password=pw&x=1":  "postgres://u@h/db?password=REDACTED&x=1",
		"redis://:pw@h:6379/0":               "redis://:REDACTED@h:6379/0",
		"postgres://u@h/db":                  "postgres://u@h/db",
		"sqlite:/var/lib/tessera/tessera.db": "sqlite:/var/lib/tessera/tessera.db",
		"127.0.0.1:8080":                     "127.0.0.1:8080",
		"postgres://u:p%zz@h/db":             Redacted, // does not parse: nothing of it
		"host=db user=u password=pw":         Redacted,
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUnknownEnv: a misspelt TESSERA_* variable is an error naming the
// setting it resembles; the variables that are not settings pass.
func TestUnknownEnv(t *testing.T) {
	_, err := Load("", []string{"TESSERA_POLICY_SESSION_IDLE_TIMOUT=5m"})
	if err == nil || !strings.Contains(err.Error(), "TESSERA_POLICY_SESSION_IDLE_TIMOUT: unknown variable; did you mean TESSERA_POLICY_SESSION_IDLE_TIMEOUT?") {
		t.Fatalf("misspelt variable: %v", err)
	}
	if _, err := Load("", []string{"TESSERA_FROBNICATE=1"}); err == nil || !strings.Contains(err.Error(), "TESSERA_FROBNICATE: unknown variable") {
		t.Fatalf("unknown variable: %v", err)
	}
	ok := []string{"TESSERA_ADMIN_TOKEN=x", "TESSERA_MASTER_KEY=x", "TESSERA_CONFIG=x", "TESSERA_TEST_POSTGRES=x", "TESSERA_TEST_REDIS=x", "TESSERA_CLIENT_ID=x", "TESSERA_CLIENT_SECRET=x", "OTHER=1"}
	if _, err := Load("", ok); err != nil {
		t.Fatalf("documented variables refused: %v", err)
	}
}

// TestEveryVariableKnown: every TESSERA_* variable the repository reads
// (os.Getenv, os.LookupEnv) is a setting or one of OtherEnv, so that no
// deployment's environment is refused for a variable Tessera uses.
func TestEveryVariableKnown(t *testing.T) {
	known := map[string]bool{}
	for _, n := range EnvNames() {
		known[n] = true
	}
	found := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 1 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Getenv" && sel.Sel.Name != "LookupEnv") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok {
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			if !strings.HasPrefix(name, EnvPrefix) {
				return true
			}
			found++
			if !known[name] && !isOtherEnv(name) {
				t.Errorf("%s reads %s, which is neither a setting nor in config.OtherEnv: add it there", path, name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 3 {
		t.Fatalf("found only %d reads of TESSERA_* variables: is the walk broken?", found)
	}
}
