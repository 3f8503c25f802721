package server

import (
	"bufio"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tessera-auth/tessera/clientip"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{16}$`)

// A proxy's X-Request-Id is kept only from a trusted proxy and only if it
// is well-formed; anything else gets a fresh random id.
func TestRequestIDTrustsOnlyProxies(t *testing.T) {
	ips, err := clientip.New([]string{"10.0.0.0/8"}, clientip.XForwardedFor)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ips: ips}
	id := func(peer, hdr string) string {
		r := httptest.NewRequest("GET", "/v1/session", nil)
		r.RemoteAddr = peer
		if hdr != "" {
			r.Header.Set("X-Request-Id", hdr)
		}
		return s.requestID(r)
	}
	if got := id("10.1.2.3:5000", "7f3c9a1e-proxy-id"); got != "7f3c9a1e-proxy-id" {
		t.Errorf("trusted proxy's id replaced: %q", got)
	}
	for _, c := range []struct{ peer, hdr string }{
		{"203.0.113.9:5000", "7f3c9a1e-proxy-id"},   // not a proxy: a client choosing its log name
		{"10.1.2.3:5000", "two words"},              // would break a text log line
		{"10.1.2.3:5000", "id\"forged=1"},           // quotes
		{"10.1.2.3:5000", strings.Repeat("a", 129)}, // too long
		{"10.1.2.3:5000", ""},                       // none sent
		{"10.1.2.3:5000", "line\nbreak"},            // control character
	} {
		if got := id(c.peer, c.hdr); !generatedID.MatchString(got) {
			t.Errorf("peer %s, X-Request-Id %q: id %q, want a generated one", c.peer, c.hdr, got)
		}
	}
	if a, b := id("203.0.113.9:5000", ""), id("203.0.113.9:5000", ""); a == b {
		t.Errorf("two requests got the same generated id %q", a)
	}
}

// logLines returns the JSON log lines whose field k is v.
func (e *env) logLines(k, v string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m[k] == v {
			out = append(out, m)
		}
	}
	return out
}

// The request id is echoed, in the request log, and in every event line
// of the request; refresh-token reuse, a theft signal, names the reuser's
// address and user agent, as does the revocation of its session.
func TestRequestIDAndOriginInLogs(t *testing.T) {
	e := newEnv(t)
	e.addUser("rita", pw)
	spa, _ := e.addClient(map[string]any{"name": "spa", "grants": []string{"refresh_token"}, "public": true, "first_party": true})
	_, rt := e.loginTokens("rita", map[string]string{"client_id": spa})

	r := e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}}, "User-Agent", "App/2.0")
	if r.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.body)
	}
	if got := r.Header.Get("X-Request-Id"); !generatedID.MatchString(got) {
		t.Fatalf("no generated X-Request-Id echoed: %q", got)
	}

	// The thief, behind the trusted proxy (127.0.0.1), which names the request.
	const rid = "0a1b2c3d-reuse"
	r = e.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {spa}},
		"User-Agent", "Thief/1.0", "X-Forwarded-For", "203.0.113.66", "X-Request-Id", rid)
	if r.StatusCode != 400 {
		t.Fatalf("reuse: %d %s", r.StatusCode, r.body)
	}
	if got := r.Header.Get("X-Request-Id"); got != rid {
		t.Fatalf("X-Request-Id echoed %q, want the proxy's %q", got, rid)
	}
	lines := e.logLines("request_id", rid)
	byEvent := map[string]map[string]any{}
	for _, l := range lines {
		if ev, ok := l["event"].(string); ok {
			byEvent[ev] = l
		} else if l["msg"] == "request" {
			byEvent["(request)"] = l
		}
	}
	for _, ev := range []string{"refresh_reused", "session_revoked", "(request)"} {
		l, ok := byEvent[ev]
		if !ok {
			t.Fatalf("no %s line with request_id %s in:\n%s", ev, rid, e.logs)
		}
		if l["ip"] != "203.0.113.66" || l["user_agent"] != "Thief/1.0" {
			t.Errorf("%s line lacks the reuser's ip and user agent: %v", ev, l)
		}
	}
}

// BenchmarkWithRequest is what naming a request adds to every request:
// the id, the header, the context.
func BenchmarkWithRequest(b *testing.B) {
	ips, _ := clientip.New([]string{"10.0.0.0/8"}, clientip.XForwardedFor)
	s := &Server{ips: ips}
	r := httptest.NewRequest("GET", "/v1/session", nil)
	r.Header.Set("User-Agent", "bench")
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		s.withRequest(w, r)
	}
}
