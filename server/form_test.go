package server

import (
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseForm: parseForm accepts exactly what url.ParseQuery plus the
// strict checks accept, with the same values, and returns no partial
// result on error.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{
		"token=2YotnFZFEjr1zCsicMWpAA&token_type_hint=access_token",     // RFC 7662 §2.1
		"grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA", // RFC 6749 §6
		"token=eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln",
		"", "&", "&&a=1&&", "a", "=", "=x", "a=", "a=b=c", "a=1&a=2", "a=1&a", "a&a",
		"a=%41", "a=%4", "a=%zz", "a+b=c+d", "a=1;b=2", ";", "a=\xff", "\xff=1", "a=1&b=\xc3",
		"client_id=x&client_secret=s%26t", "a=%ff", "a=%C3%A9", strings.Repeat("a&", 40) + "b=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, msg := parseForm(body)
		want, wantMsg := parseFormSlow(body)
		if (msg == "") != (wantMsg == "") {
			t.Fatalf("parseForm(%q): %q, reference %q", body, msg, wantMsg)
		}
		if msg != "" {
			if got != nil {
				t.Fatalf("parseForm(%q): partial result %v with %q", body, got, msg)
			}
			// Repeated and non-UTF-8 may be told in either order (the
			// reference walks a map); malformed is malformed.
			if (msg == "malformed form body") != (wantMsg == "malformed form body") {
				t.Fatalf("parseForm(%q): %q, reference %q", body, msg, wantMsg)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parseForm(%q) = %v, reference %v", body, got, want)
		}
	})
}

func TestReadForm(t *testing.T) {
	tests := []struct {
		name, ct, target, body string
		want                   url.Values
		wantMsg                bool
	}{
		{"plain", formMediaType, "/", "token=abc.def.ghi&token_type_hint=access_token", url.Values{"token": {"abc.def.ghi"}, "token_type_hint": {"access_token"}}, false},
		{"charset parameter", formMediaType + "; charset=UTF-8", "/", "a=1", url.Values{"a": {"1"}}, false},
		{"media type case", "Application/X-WWW-Form-URLEncoded", "/", "a=1", url.Values{"a": {"1"}}, false},
		{"escaped", formMediaType, "/", "a=x%2By+z", url.Values{"a": {"x+y z"}}, false},
		{"json", "application/json", "/", "a=1", nil, true},
		{"no content type", "", "/", "a=1", nil, true},
		{"query string", formMediaType, "/?a=1", "b=2", nil, true},
		{"repeated", formMediaType, "/", "a=1&a=1", nil, true},
		{"too large", formMediaType, "/", "a=" + strings.Repeat("x", maxBody), nil, true},
		{"largest", formMediaType, "/", "a=" + strings.Repeat("x", maxBody-2), url.Values{"a": {strings.Repeat("x", maxBody-2)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second read reuses a pooled buffer
				r := httptest.NewRequest("POST", tt.target, strings.NewReader(tt.body))
				if tt.ct != "" {
					r.Header.Set("Content-Type", tt.ct)
				}
				got, msg := readForm(httptest.NewRecorder(), r)
				if (msg != "") != tt.wantMsg || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("readForm = %v, %q; want %v (error %v)", got, msg, tt.want, tt.wantMsg)
				}
			}
		})
	}
}

// The values handed out must not share memory with a pooled buffer that a
// later request overwrites.
func TestReadFormValuesOutliveTheBuffer(t *testing.T) {
	read := func(body string) url.Values {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set("Content-Type", formMediaType)
		v, msg := readForm(httptest.NewRecorder(), r)
		if msg != "" {
			t.Fatal(msg)
		}
		return v
	}
	first := read("token=" + strings.Repeat("a", 900))
	for range 10 {
		read("token=" + strings.Repeat("b", 900))
	}
	if first.Get("token") != strings.Repeat("a", 900) {
		t.Fatal("a form value changed after later requests")
	}
}
