package server

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/tessera-auth/tessera/token"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden pins every wire format byte for byte: each answer comes from
// the real handlers over a real listener, with the test's fixed clock.
// Values that are random by design (ids, tokens, keys, signatures) are
// replaced by numbered placeholders after their shape has been checked, so
// the same value keeps the same name across answers. Run with -update to
// rewrite the files after an intended change, and review the diff.
func TestGolden(t *testing.T) {
	e := newEnv(t)
	e.addUser("gina", pw)
	rsID, rsSecret := e.addClient(map[string]any{"name": "api", "grants": []string{"client_credentials"}, "scopes": []string{"read", "write"}, "revocation_feed": true})
	rs := basic(rsID, rsSecret)
	introspect := func(tok string) resp { return e.form("/oauth2/introspect", url.Values{"token": {tok}}, rs...) }

	b := e.loginCookie("gina", pw)
	at, rt := e.loginTokens("gina", nil)
	e.clock.Add(time.Second)
	refreshed := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	cases := []struct {
		name        string
		r           resp
		status      int
		contentType string
	}{
		{"metadata", e.do(e.public, "GET", "/.well-known/oauth-authorization-server", nil), 200, "application/json"},
		{"jwks", e.do(e.public, "GET", "/.well-known/jwks.json", nil), 200, "application/json"},
		{"token-refresh", refreshed, 200, "application/json"},
		{"token-client-credentials", e.token(url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, rs...), 200, "application/json"},
		{"introspect-jwt", introspect(at), 200, "application/json"},
		{"introspect-session", introspect(b.cookie), 200, "application/json"},
		{"introspect-inactive", introspect(rt), 200, "application/json"}, // rotated away
		{"whoami-cookie", e.whoami("Cookie", "__Host-tessera_session="+b.cookie), 200, "application/json"},
		{"whoami-bearer", e.whoami(bearer(at)...), 200, "application/json"},
		{"error-oauth", e.token(url.Values{"grant_type": {"password"}}), 400, "application/json"},
		{"error-oauth-client", e.token(url.Values{"grant_type": {"client_credentials"}}, basic(rsID, "tsc_wrong")...), 401, "application/json"},
		{"error-problem", e.whoami(), 401, "application/problem+json"},
	}
	// The feed, after a session ends and an access token is revoked.
	e.clock.Add(time.Second)
	if r := e.do(e.public, "POST", "/v1/logout", nil, b.headers()...); r.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.StatusCode, r.body)
	}
	if r := e.form("/oauth2/revoke", url.Values{"token": {at}}); r.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	cases = append(cases, struct {
		name        string
		r           resp
		status      int
		contentType string
	}{"revocations", e.do(e.public, "GET", "/v1/revocations", nil, rs...), 200, "application/json"})

	n := newNormalizer()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGolden(t, n, c.name, c.r, c.status, c.contentType) })
	}
}

// checkGolden compares an answer with testdata/golden/NAME.json (or
// rewrites it under -update).
func checkGolden(t *testing.T, n *normalizer, name string, r resp, status int, contentType string) {
	t.Helper()
	if r.StatusCode != status || r.Header.Get("Content-Type") != contentType {
		t.Fatalf("%d %q, want %d %q: %s", r.StatusCode, r.Header.Get("Content-Type"), status, contentType, r.body)
	}
	got := n.normalize(t, r.body)
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (if intended, rerun with -update and review the diff)\n got %s\nwant %s", path, got, want)
	}
}

// normalizer replaces values that are random by design with placeholders
// numbered in order of first appearance: equal values get equal names, so
// the golden files still show which id, token or key is which.
type normalizer struct {
	names map[string]string
	count map[string]int
}

func newNormalizer() *normalizer {
	return &normalizer{names: map[string]string{}, count: map[string]int{}}
}

var (
	// Random values found by shape, wherever they appear.
	volatileValues = []struct {
		kind string
		re   *regexp.Regexp
	}{
		{"jwt", regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43,}`)},
		{"uuid", regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)},
		{"token", regexp.MustCompile(fmt.Sprintf(`ts[a-z]_[0-9A-Za-z]{%d}`, token.Len-4))},
	}
	// Random values found by member name, with the shape they must have.
	volatileMembers = map[string]*regexp.Regexp{
		"kid":        regexp.MustCompile(`^[A-Za-z0-9_-]{8,}$`),
		"x":          regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`), // P-256 coordinates: 32 bytes
		"y":          regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`),
		"csrf_token": regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`),
	}
	memberString = regexp.MustCompile(`"([a-z_]+)":"([^"\\]*)"`)
)

func (n *normalizer) name(kind, v string) string {
	if p, ok := n.names[v]; ok {
		return p
	}
	n.count[kind]++
	p := fmt.Sprintf("[%s-%d]", kind, n.count[kind])
	n.names[v] = p
	return p
}

func (n *normalizer) normalize(t *testing.T, body []byte) []byte {
	t.Helper()
	out := memberString.ReplaceAllFunc(body, func(m []byte) []byte {
		sm := memberString.FindSubmatch(m)
		shape, ok := volatileMembers[string(sm[1])]
		if !ok {
			return m
		}
		if !shape.Match(sm[2]) {
			t.Errorf("%q: %q does not have the expected shape %s", sm[1], sm[2], shape)
		}
		return fmt.Appendf(nil, `"%s":"%s"`, sm[1], n.name(string(sm[1]), string(sm[2])))
	})
	for _, v := range volatileValues {
		out = v.re.ReplaceAllFunc(out, func(m []byte) []byte { return []byte(n.name(v.kind, string(m))) })
	}
	return out
}
