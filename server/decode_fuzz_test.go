package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tessera-auth/tessera/protocol"
)

// FuzzDecodeLogin feeds hostile bodies to the JSON decoder the login uses:
// it must never panic, must answer every failure with a 4xx problem, and
// must leave the destination untouched when it fails.
func FuzzDecodeLogin(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"pw","delivery":"cookie"}`,
		`{"username":"alice","password":"pw","delivery":"token","client_id":"app"}`,
		`{}`, `null`, `[]`, `"x"`, `{"username":1}`, `{"username":"a"}{}`, `{"a":`,
		"{\"username\":\"\xff\"}", `{"username":"\u0000"}`, `{"username":"a","username":"b"}`,
		strings.Repeat("[", 10000),
		// L9: one reading per body. Duplicates (also escaped ones) and
		// case variants of a field are refused.
		`{"USERNAME":"alice","password":"pw"}`, `{"uſername":"alice","password":"pw"}`,
		`{"username":"a","password":"pw","delivery":"cookie","DELIVERY":"token"}`,
		`{"username":"a","\u0075sername":"b"}`, `{"username":{"a":1,"a":2}}`,
		`{"client_id":[{"x":1},{"x":1,"x":2}]}`, `{"Client_ID":"app"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sentinel := loginRequest{Username: "untouched"}
		dst := sentinel
		req := httptest.NewRequest("POST", "/v1/login", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		p := decodeJSON(httptest.NewRecorder(), req, &dst)
		if p != nil {
			if p.Status < 400 || p.Status > 499 || p.Code == "" {
				t.Fatalf("bad problem %+v", p)
			}
			if dst != sentinel {
				t.Fatal("a failed decode wrote to its destination")
			}
			return
		}
		if !utf8.Valid(body) || len(body) > maxBody {
			t.Fatal("accepted invalid UTF-8 or an oversized body")
		}
		// Accepted: every member is named exactly, once.
		dec := json.NewDecoder(bytes.NewReader(body))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			if tok == nil && err == nil {
				return // null: the zero request, refused by the handler
			}
			t.Fatalf("accepted a non-object %q", body)
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, _ := dec.Token()
			name := tok.(string)
			if seen[name] || !slices.Contains([]string{"username", "password", "delivery", "client_id"}, name) {
				t.Fatalf("accepted member %q of %q", name, body)
			}
			seen[name] = true
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzBearerToken checks the Authorization header parser: whatever it
// accepts is a non-empty RFC 6750 b64token.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer tss_abc", "bearer x", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearer abc==", "Bearer ==", "Bearer \x00", "Bearer  abc", "Bearer\tabc", "Bearer,abc", "Bearerx abc", "BEARER abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := bearerToken(h)
		if !ok {
			if tok != "" {
				t.Fatal("partial result on failure")
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n\x00") || !protocol.IsB64Token(tok) {
			t.Fatalf("accepted %q from %q", tok, h)
		}
		if h[len("Bearer")] != ' ' {
			t.Fatalf("accepted %q: the scheme is followed by 1*SP only (RFC 7235 §2.1)", h)
		}
		if !strings.HasSuffix(h, tok) {
			t.Fatalf("token %q is not the tail of %q", tok, h)
		}
	})
}

// FuzzWhoamiCookie drives the whole public handler with hostile cookie and
// authorization headers: never a panic, never a 5xx.
func FuzzWhoamiCookie(f *testing.F) {
	for _, s := range []string{"__Host-tessera_session=tss_x", "__Host-tessera_session=", "a=b; c", `__Host-tessera_session="tss_`, strings.Repeat(";", 500)} {
		f.Add(s, "")
	}
	f.Add("", "Bearer tss_0000000000000000000000000000000000000000000000000")
	e := newEnv(f)
	h := e.srv.Public()
	f.Fuzz(func(t *testing.T, cookie, authz string) {
		req := httptest.NewRequest("GET", "/v1/session", nil)
		req.Header.Set("Cookie", cookie)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 || w.Code == http.StatusOK {
			t.Fatalf("status %d for cookie %q authz %q", w.Code, cookie, authz)
		}
	})
}
