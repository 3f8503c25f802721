package server

import (
	"net/http"
	"reflect"
	"testing"
)

// TestJSONBodiesHaveOneReading: a body that repeats a member, or names a
// field in another case, is refused (issue 10 L9). encoding/json takes
// "USERNAME" for "username" and keeps the last of two "delivery" members,
// where other parsers keep the first or ignore the variant: each of these
// logged kate in on main.
func TestJSONBodiesHaveOneReading(t *testing.T) {
	e := newEnv(t)
	e.addUser("kate", pw)
	tests := []struct {
		name, body, code string
	}{
		{"upper-case name", `{"USERNAME":"kate","password":"` + pw + `"}`, "unknown_field"},
		{"mixed-case name", `{"username":"kate","Password":"` + pw + `"}`, "unknown_field"},
		{"long s folds to s", `{"uſername":"kate","password":"` + pw + `"}`, "unknown_field"},
		{"case-variant duplicate", `{"username":"kate","password":"` + pw + `","delivery":"cookie","DELIVERY":"token"}`, "unknown_field"},
		{"duplicate", `{"username":"kate","password":"` + pw + `","delivery":"token","delivery":"cookie"}`, "duplicate_field"},
		{"escaped duplicate", `{"username":"kate","password":"` + pw + `","\u0075sername":"kate"}`, "duplicate_field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(e.public, "POST", "/v1/login", tt.body)
			wantProblem(t, r, http.StatusBadRequest, tt.code)
			if r.cookie("__Host-tessera_session") != nil {
				t.Fatal("a refused body still logged in")
			}
		})
	}
	// The admin API decodes the same way.
	wantProblem(t, e.adminDo("POST", "/admin/v1/users", `{"username":"lou","password":"`+pw+`","username":"root"}`), http.StatusBadRequest, "duplicate_field")
	wantProblem(t, e.adminDo("POST", "/admin/v1/clients", `{"name":"a","grants":["client_credentials"],"Public":true}`), http.StatusBadRequest, "unknown_field")
	// Exact names still work, and an object nested where a string belongs
	// is a type error, not a member question.
	if r := e.do(e.public, "POST", "/v1/login", `{"username":"kate","password":"`+pw+`","delivery":"cookie"}`); r.StatusCode != http.StatusOK {
		t.Fatalf("exact names: %d %s", r.StatusCode, r.body)
	}
	wantProblem(t, e.do(e.public, "POST", "/v1/login", `{"username":{"a":1},"password":"x"}`), http.StatusBadRequest, "invalid_field")
	wantProblem(t, e.do(e.public, "POST", "/v1/login", `{"username":{"a":1,"a":2},"password":"x"}`), http.StatusBadRequest, "duplicate_field")
}

func TestCheckMembers(t *testing.T) {
	type inner struct {
		A string `json:"a"`
	}
	type outer struct {
		X  string            `json:"x"`
		In inner             `json:"in"`
		L  []inner           `json:"l"`
		M  map[string]string `json:"m"`
	}
	tests := []struct {
		body string
		code string // "" accepted by checkMembers
	}{
		{`{"x":"1","in":{"a":"2"},"l":[{"a":"3"},{"a":"4"}],"m":{"k":"v","K":"w"}}`, ""},
		{`{"in":{"A":"2"}}`, "unknown_field"},
		{`{"l":[{"a":"3"},{"A":"4"}]}`, "unknown_field"},
		{`{"l":[{"a":"3","a":"4"}]}`, "duplicate_field"},
		{`{"m":{"k":"v","k":"w"}}`, "duplicate_field"},
		{`{"x":"1","X":"2"}`, "unknown_field"},
		{`{"nope":1}`, ""}, // unknown, not a case variant: the decoder's call
		{`{"x":`, ""},      // syntax: the decoder's call
		{`[{"x":1,"x":2}]`, "duplicate_field"},
	}
	for _, tt := range tests {
		var dst outer
		p := decodeBytes([]byte(tt.body), &dst)
		cp := checkMembers([]byte(tt.body), reflectTypeOf(dst))
		got := ""
		if cp != nil {
			got = cp.Code
		}
		if got != tt.code {
			t.Errorf("%s: checkMembers %q, want %q", tt.body, got, tt.code)
		}
		if tt.code != "" && (p == nil || p.Code != tt.code) {
			t.Errorf("%s: decodeBytes %v, want %q", tt.body, p, tt.code)
		}
	}
}

func reflectTypeOf[T any](T) reflect.Type { return reflect.TypeFor[T]() }

// BenchmarkDecodeLogin measures the strict decoder on a login body: the
// member check runs before encoding/json (issue 10, L9).
func BenchmarkDecodeLogin(b *testing.B) {
	body := []byte(`{"username":"alice","password":"correct horse battery staple","delivery":"token","client_id":"01a23b58-b23c-7dba-acf2-4d24cd87a304"}`)
	b.ReportAllocs()
	for b.Loop() {
		var dst loginRequest
		if p := decodeBytes(body, &dst); p != nil {
			b.Fatal(p)
		}
	}
}
