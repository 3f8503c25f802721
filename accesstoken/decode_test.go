package accesstoken

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// refParseClaims is the slow reference for parseClaims: encoding/json
// into Claims, after refObjectMembers (one object, no duplicate members,
// valid UTF-8) and the refusals parseClaims adds on purpose, each checked
// here with encoding/json.
func refParseClaims(b []byte) (*Claims, error) {
	names, err := refObjectMembers(b)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		for _, c := range claimNames {
			if n != c && strings.EqualFold(n, c) {
				return nil, fmt.Errorf("%q is %q in another case", n, c)
			}
		}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	for _, n := range claimNames {
		v, ok := raw[n]
		if !ok {
			continue
		}
		if string(v) == "null" {
			return nil, fmt.Errorf("%s: null", n)
		}
		switch n {
		case "aud", "amr":
			var elems []json.RawMessage
			if json.Unmarshal(v, &elems) == nil && containsNull(elems) {
				return nil, fmt.Errorf("%s: null element", n)
			}
		case "cnf":
			if _, err := refObjectMembers(v); err != nil {
				return nil, fmt.Errorf("cnf: %v", err)
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(v, &m) == nil {
				for _, e := range m {
					if string(e) == "null" {
						return nil, errors.New("cnf: null member")
					}
				}
			}
		}
	}
	var c Claims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func containsNull(vs []json.RawMessage) bool {
	for _, v := range vs {
		if string(v) == "null" {
			return true
		}
	}
	return false
}

var claimsCases = []string{
	`{"iss":"https://tessera.bench","sub":"user-0000000","aud":"https://tessera.bench","exp":1795658953,"iat":1795658053,"jti":"01a2158f-7656-71b3-b93f-0225752415b4","client_id":"tessera","sid":"01a2158f-7653-78f6-8d90-7c9149125283","auth_time":1795658053,"acr":"aal1","amr":["pwd"]}`,
	`{"aud":["a","b"],"cnf":{"jkt":"x"},"nbf":0,"scope":"a b"}`,
	`{"aud":[],"amr":[],"cnf":{}}`, ` {"sub" : "a\u0062\"c\\\/\b\f\n\r\t\ud83d\ude00" } `,
	`{"sub":"a","sub":"b"}`, `{"sub":"a","\u0073ub":"b"}`, `{"SUB":"a"}`, `{"ſub":"a"}`, `{"Iss":"x","iss":"y"}`,
	`{"sub":1}`, `{"exp":"1"}`, `{"exp":1.0}`, `{"exp":1e3}`, `{"exp":-0}`, `{"exp":9223372036854775807}`,
	`{"exp":9223372036854775808}`, `{"exp":-9223372036854775808}`, `{"exp":01}`, `{"exp":-}`, `{"exp":1.}`,
	`{"aud":5}`, `{"aud":null}`, `{"aud":["a",null]}`, `{"aud":["a",1]}`, `{"aud":{"a":"b"}}`, `{"sub":null}`,
	`{"amr":"pwd"}`, `{"amr":[null]}`, `{"cnf":{"a":"1","a":"2"}}`, `{"cnf":{"a":null}}`, `{"cnf":{"a":1}}`, `{"cnf":[]}`,
	`{"x":{"a":1,"a":2},"y":[1,{"b":[true,false,null]}],"z":-1.5e-3}`, `{"x":{"iss":1}}`, `{"iss_":1}`,
	`{"sub":"\ud800"}`, `{"sub":"\u00"}`, `{"sub":"\x"}`, "{\"sub\":\"a\tb\"}", "{\"sub\":\"\xff\"}",
	`[]`, `"x"`, `null`, `not json`, ``, `{}`, `{} {}`, `{"a":1}x`, `{"a":tru}`, `{"a":nul}`, `{"a":[1,]}`, `{"a":[,1]}`,
}

func TestParseClaimsMatchesReference(t *testing.T) {
	for _, in := range claimsCases {
		checkClaimsDecoder(t, []byte(in))
	}
}

func FuzzParseClaims(f *testing.F) {
	for _, in := range claimsCases {
		f.Add([]byte(in))
	}
	f.Fuzz(checkClaimsDecoder)
}

func checkClaimsDecoder(t *testing.T, b []byte) {
	got, err := parseClaims(string(b))
	want, werr := refParseClaims(b)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: accepted=%v, reference accepted=%v (%v / %v)", b, err == nil, werr == nil, err, werr)
	}
	if err != nil {
		if !errors.Is(err, ErrClaims) || got != nil {
			t.Fatalf("%q: %v, %v; want nil, ErrClaims", b, got, err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
}

// refParseHeader is the slow reference for parseHeader.
func refParseHeader(b []byte) (header, error) {
	names, err := refObjectMembers(b)
	if err != nil {
		return header{}, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return header{}, err
	}
	var h header
	for _, n := range names {
		var s string
		if v := raw[n]; len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
			return header{}, fmt.Errorf("%q is not a string", n)
		}
		switch n {
		case "alg":
			h.alg = s
		case "kid":
			h.kid = s
		case "typ":
			h.typ = s
		default:
			return header{}, fmt.Errorf("%q header", n)
		}
	}
	return h, nil
}

var headerCases = []string{
	`{"alg":"ES256","kid":"k1","typ":"at+jwt"}`, `{"alg":"ES256"}`, `{}`, ` {"typ" : "JWT" } `,
	`{"alg":"ES256","alg":"none"}`, `{"alg":"ES256","\u0061lg":"none"}`, `{"\u006bid":"k"}`, `{"ALG":"ES256"}`,
	`{"alg":"ES256","jku":"https://evil.example"}`, `{"alg":"ES256","jwk":{}}`, `{"crit":["exp"]}`, `{"x5c":[]}`,
	`{"alg":1}`, `{"alg":null}`, `{"kid":["a"]}`, `{"alg":"\u0000"}`, `[]`, `null`, ``, `{"alg":"ES256"}x`, "{\"alg\":\"ES256\"}\x00", "\x00{}",
}

func TestParseHeaderMatchesReference(t *testing.T) {
	for _, in := range headerCases {
		checkHeaderDecoder(t, []byte(in))
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, in := range headerCases {
		f.Add([]byte(in))
	}
	f.Fuzz(checkHeaderDecoder)
}

func checkHeaderDecoder(t *testing.T, b []byte) {
	got, err := parseHeader(string(b))
	want, werr := refParseHeader(b)
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: accepted=%v, reference accepted=%v (%v / %v)", b, err == nil, werr == nil, err, werr)
	}
	if err == nil && got != want {
		t.Fatalf("%q: got %+v, reference %+v", b, got, want)
	}
}
