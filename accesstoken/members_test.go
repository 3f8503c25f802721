package accesstoken

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"
)

// objectMembers lists the member names of a JSON object as the verifier
// reads headers and claims (decoder.object, skipping every value), so that
// the fuzz target below holds the decoder's grammar, duplicate check and
// depth to json.Decoder.
func objectMembers(b []byte) ([]string, error) {
	s := string(b)
	if !utf8.ValidString(s) {
		return nil, errors.New("invalid UTF-8")
	}
	d := decoder{s: s}
	names := []string{}
	err := d.object(func(name string) error {
		names = append(names, name)
		return d.skip()
	})
	if err == nil {
		err = d.end()
	}
	if err != nil {
		return nil, err
	}
	return names, nil
}

// refObjectMembers is the obviously-correct, slow reference for
// objectMembers, built on json.Decoder's token stream.
func refObjectMembers(b []byte) ([]string, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	names := []string{}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := t.(string)
		if seen[name] {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		seen[name] = true
		names = append(names, name)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return names, nil
}

var memberCases = []string{
	`{}`, ` { } `, `{"a":1}`, `{"a":1,"b":{"a":2,"c":[{"d":3}]},"e":"x,\"y\"}"}`,
	`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a\"b":1,"c\\":2}`, `{"a":"}"}`, `{"a":[1,2,{"b":"]"}]}`,
	`[]`, `"x"`, `1`, `null`, `{"a":1}{}`, `{"a":1} x`, `{"a":}`, `{"a" 1}`, `{a:1}`, `{"a":1,}`,
	"{\"a\":\"\xff\"}", `{"a":"\ud800"}`, ``, `   `, `{"":1,"":2}`, `{"x":{"x":{"x":1}}}`,
}

func TestObjectMembersMatchesReference(t *testing.T) {
	for _, in := range memberCases {
		got, err := objectMembers([]byte(in))
		want, werr := refObjectMembers([]byte(in))
		if (err == nil) != (werr == nil) || (err == nil && !reflect.DeepEqual(got, want)) {
			t.Errorf("%q: got %q, %v; reference %q, %v", in, got, err, want, werr)
		}
	}
}

func FuzzObjectMembers(f *testing.F) {
	for _, in := range memberCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := objectMembers(b)
		want, werr := refObjectMembers(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: accepted=%v, reference accepted=%v (%v / %v)", b, err == nil, werr == nil, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: names %q, reference %q", b, got, want)
		}
	})
}
