package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
)

// encoding/json resolves two things a security boundary must not leave to
// a parser's taste, and resolves them differently from other parsers: a
// member name sent twice (it keeps the last; others keep the first or
// refuse, RFC 8259 §4 leaves it open), and a name that matches a field only
// case-insensitively ("USERNAME", "ſername" — it takes them for the field).
// A proxy or WAF that reads the first "delivery" and Tessera the last, or
// a case-sensitive audit rule that never sees "DELIVERY", disagree about
// what was asked. The access-token decoder refuses both for the same
// reason (accesstoken/decode.go); checkMembers does for request bodies,
// before encoding/json sees them, so a body has one reading or none.

// checkMembers refuses body if any object in it repeats a member name
// (compared unescaped, so "a" and "\u0061" collide) or, where t (the
// destination type) has struct fields, names one in another case. Other
// failures (syntax, types, unknown fields) are left to the decoder.
func checkMembers(body []byte, t reflect.Type) *problem {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := walkValue(dec, t); err != nil {
		if p, ok := err.(*problem); ok {
			return p
		}
		return nil // a syntax error: the decoder names it
	}
	return nil
}

// walkValue consumes one JSON value from dec, checking the member names
// of every object in it against t (nil: any names, still each once).
func walkValue(dec *json.Decoder, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		return walkObject(dec, t)
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if err := walkValue(dec, elem); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	return nil
}

func walkObject(dec *json.Decoder, t reflect.Type) error {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil {
		switch t.Kind() {
		case reflect.Struct:
			fields = jsonFields(t)
		case reflect.Map:
			elem = t.Elem()
		}
	}
	seen := make(map[string]bool, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, ok := tok.(string)
		if !ok {
			return io.ErrUnexpectedEOF
		}
		if seen[name] {
			return newProblem(http.StatusBadRequest, "duplicate_field", fmt.Sprintf("Field %s appears more than once.", quoteName(name)))
		}
		seen[name] = true
		vt := elem
		if fields != nil {
			ft, known := fields[name]
			if !known {
				for f := range fields {
					if strings.EqualFold(f, name) {
						return newProblem(http.StatusBadRequest, "unknown_field",
							fmt.Sprintf("Unknown field %s: field names are case-sensitive (did you mean %q?).", quoteName(name), f))
					}
				}
			}
			vt = ft
		}
		if err := walkValue(dec, vt); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

// quoteName quotes a client-sent name for a problem detail, shortened.
func quoteName(name string) string {
	q := fmt.Sprintf("%q", name)
	if len(q) > 66 {
		q = q[:64] + `…"`
	}
	return q
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps the JSON names of t's fields to their types, as
// encoding/json names them (the tag's name, else the Go name).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for n, ft := range jsonFields(f.Type) { // promoted fields
				m[n] = ft
			}
			continue
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}
