package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Source says where a setting's value came from. Later sources win:
// default < file < env < flag.
type Source string

// The sources of a setting.
const (
	SourceDefault Source = "default"
	SourceFile    Source = "file"
	SourceEnv     Source = "env"
	SourceFlag    Source = "flag"
)

// Sources maps a setting's key, its YAML path such as
// policy.session.idle_timeout, to where its value came from. A key that is
// absent holds its default.
type Sources map[string]Source

// Of is where key's value came from.
func (s Sources) Of(key string) Source {
	if src, ok := s[key]; ok {
		return src
	}
	return SourceDefault
}

// ConfigEnv names the config file when no --config flag does.
const ConfigEnv = EnvPrefix + "CONFIG"

// OtherEnv are the TESSERA_* variables that are not settings, each with
// what it is for. Every other TESSERA_* variable must name a setting
// (EnvNames): a misspelt one is an error, as a misspelt YAML key is.
var OtherEnv = map[string]string{
	ConfigEnv:               "the config file, when --config is not given",
	"TESSERA_ADMIN_TOKEN":   "the admin API token, instead of the data folder's admin-token file",
	"TESSERA_MASTER_KEY":    "the master key (base64 of 32 bytes), instead of master_key_file",
	"TESSERA_CLIENT_ID":     "examples/protected-service: its client id",
	"TESSERA_CLIENT_SECRET": "examples/protected-service: its client secret",
	EnvPrefix + "TEST_*":    "test suites: services to test against (TESSERA_TEST_POSTGRES, TESSERA_TEST_REDIS)",
}

// SecretEnv are the OtherEnv variables whose values are secrets.
var SecretEnv = []string{"TESSERA_ADMIN_TOKEN", "TESSERA_MASTER_KEY", "TESSERA_CLIENT_SECRET"}

// isOtherEnv reports whether name is an OtherEnv variable.
func isOtherEnv(name string) bool {
	if _, ok := OtherEnv[name]; ok {
		return true
	}
	for pattern := range OtherEnv {
		if prefix, ok := strings.CutSuffix(pattern, "*"); ok && strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// LoadSources is Load, and says where each setting came from.
func LoadSources(path string, env []string) (Config, Sources, error) {
	c := Default()
	src := Sources{}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		// An empty file decodes to io.EOF and means "all defaults".
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, nil, fmt.Errorf("config: %s: %w", path, err)
		}
		var root yaml.Node
		if err := yaml.Unmarshal(b, &root); err == nil {
			fileKeys(&root, "", func(key string) { src[key] = SourceFile })
		}
	}
	if err := applyEnv(&c, env, src); err != nil {
		return Config{}, nil, fmt.Errorf("config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, nil, fmt.Errorf("config: %w", err)
	}
	return c, src, nil
}

// fileKeys calls fn with the path of every value a YAML document sets.
func fileKeys(n *yaml.Node, prefix string, fn func(key string)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			fileKeys(c, prefix, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix != "" {
				key = prefix + "." + key
			}
			if v := n.Content[i+1]; v.Kind == yaml.MappingNode {
				fileKeys(v, key, fn)
			} else {
				fn(key)
			}
		}
	}
}

// Setting is one effective setting, for `tessera config show`.
type Setting struct {
	Key    string // YAML path: policy.session.idle_timeout
	Env    string // its variable: TESSERA_POLICY_SESSION_IDLE_TIMEOUT
	Value  string // as YAML would spell it; secrets redacted
	Source Source
}

// Settings lists every setting of c in the order of the Config struct,
// with where src says it came from. Secrets are redacted: a URL's password
// (store, store_direct and any other URL setting).
func (c Config) Settings(src Sources) []Setting {
	var out []Setting
	fields(reflect.ValueOf(c), "", EnvPrefix, func(key, env string, f reflect.Value) {
		out = append(out, Setting{Key: key, Env: env, Value: formatValue(f), Source: src.Of(key)})
	})
	return out
}

// fields calls fn for every setting below v, with its YAML key and its
// variable.
func fields(v reflect.Value, keyPrefix, envPrefix string, fn func(key, env string, f reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key, env := keyPrefix+name, envPrefix+strings.ToUpper(name)
		if f := v.Field(i); f.Kind() == reflect.Struct && f.Type() != durationType {
			fields(f, key+".", env+"_", fn)
		} else {
			fn(key, env, f)
		}
	}
}

// Redacted stands for a secret in output.
const Redacted = "REDACTED"

func formatValue(f reflect.Value) string {
	if f.Type() == durationType {
		return shortDuration(f.Interface().(Duration))
	}
	switch f.Kind() {
	case reflect.String:
		s := f.String()
		if s == "" {
			return `""`
		}
		return RedactURL(s)
	case reflect.Slice:
		if f.Type().Elem().Kind() != reflect.String {
			b, err := yaml.Marshal(f.Interface())
			if err != nil || f.Len() == 0 {
				return "[]"
			}
			// Not a scalar list (forward_auth.rules): one flow line.
			var n yaml.Node
			if yaml.Unmarshal(b, &n) == nil && len(n.Content) == 1 {
				setFlow(n.Content[0])
				if b, err = yaml.Marshal(n.Content[0]); err == nil {
					return strings.TrimSpace(string(b))
				}
			}
			return fmt.Sprintf("[%d entries]", f.Len())
		}
		parts := make([]string, f.Len())
		for i := range parts {
			parts[i] = RedactURL(f.Index(i).String())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(f.Interface())
}

func setFlow(n *yaml.Node) {
	n.Style |= yaml.FlowStyle
	for _, c := range n.Content {
		setFlow(c)
	}
}

// RedactURL replaces the password of a URL (user:password@, and the
// password and sslpassword query parameters PostgreSQL accepts) with
// REDACTED. Anything else is returned as it is.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		if strings.Contains(s, "://") || strings.Contains(strings.ToLower(s), "password") {
			// Unparseable and maybe secret: say nothing of it.
			return Redacted
		}
		return s
	}
	changed := false
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Redacted)
		changed = true
	}
	if q := u.Query(); len(q) > 0 {
		for k := range q {
			if lk := strings.ToLower(k); lk == "password" || lk == "sslpassword" || strings.Contains(lk, "secret") {
				q.Set(k, Redacted)
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return s
	}
	return strings.Replace(u.String(), url.QueryEscape(Redacted), Redacted, -1)
}

// unknownEnv reports the TESSERA_* variables of vars that are neither
// settings nor OtherEnv, with the nearest setting's name as a hint.
func unknownEnv(vars map[string]string, known map[string]bool) error {
	var errs []error
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		if known[name] || isOtherEnv(name) {
			continue
		}
		msg := fmt.Sprintf("%s: unknown variable (not a setting; tessera config show lists them)", name)
		if s := nearest(name, known); s != "" {
			msg = fmt.Sprintf("%s: unknown variable; did you mean %s?", name, s)
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}

// nearest is the known name closest to name, if it is close enough to be
// a misspelling.
func nearest(name string, known map[string]bool) string {
	best, bestD := "", 4
	for k := range known {
		if d := distance(name, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// shortDuration spells d as a config file would: 30m, not 30m0s.
func shortDuration(d Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
