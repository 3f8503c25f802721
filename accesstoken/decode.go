package accesstoken

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A verifier reads two JSON texts per token, the header before the
// signature check and the claims after it. encoding/json took several
// times as long as everything else but the signature check, allocating per
// field, and it is lenient where a verifier must not be (duplicate
// members, case-insensitive names), so the texts are read by the small
// strict decoder below instead. Differential fuzz tests hold it to
// json.Decoder (members_test.go) and to encoding/json's decoding of Claims
// (decode_test.go): same grammar, same values, refusing only where
// parseClaims says so.

// maxDepth is encoding/json's nesting limit, kept so that both accept
// the same texts.
const maxDepth = 10000

var errSyntax = errors.New("not JSON")

// decoder reads one JSON text from s. Strings it returns are substrings of
// s wherever they hold no escapes, so decoding allocates almost nothing.
// The caller checks that s is valid UTF-8 first.
type decoder struct {
	s     string
	i     int
	depth int
}

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next returns the first byte of the next token, or 0 at the end.
func (d *decoder) next() byte {
	d.ws()
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

// end refuses anything but whitespace after the text. It cannot use next,
// whose 0 for "no more input" is also a NUL byte.
func (d *decoder) end() error {
	d.ws()
	if d.i != len(d.s) {
		return errors.New("data after the JSON text")
	}
	return nil
}

// members calls member for each member of the object at the next token,
// with the name unescaped; member must consume the value. Duplicate names
// are the caller's business (see object).
func (d *decoder) members(member func(name string) error) error {
	if d.next() != '{' {
		return errors.New("not a JSON object")
	}
	if d.depth++; d.depth > maxDepth {
		return errSyntax
	}
	d.i++
	if d.next() == '}' {
		d.i++
		d.depth--
		return nil
	}
	for {
		if d.next() != '"' {
			return errSyntax
		}
		name, err := d.str()
		if err != nil {
			return err
		}
		if d.next() != ':' {
			return errSyntax
		}
		d.i++
		if err := member(name); err != nil {
			return err
		}
		switch d.next() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// object is members refusing duplicate names, which parsers resolve
// differently (RFC 7519 §4, RFC 7515 §4). Names are compared unescaped,
// so "a" and "\u0061" collide.
func (d *decoder) object(member func(name string) error) error {
	var seen nameSet
	return d.members(func(name string) error {
		if !seen.add(name) {
			return fmt.Errorf("duplicate member %q", name)
		}
		return member(name)
	})
}

// nameSet holds the member names of one object. Tessera's objects have a
// dozen members at most, which a linear scan of an array on the stack
// beats any map at; larger ones spill into a map.
type nameSet struct {
	few  [16]string
	n    int
	many map[string]bool
}

// add reports whether name is new, and remembers it.
func (s *nameSet) add(name string) bool {
	for _, n := range s.few[:s.n] {
		if n == name {
			return false
		}
	}
	if s.n < len(s.few) {
		s.few[s.n] = name
		s.n++
		return true
	}
	if s.many[name] {
		return false
	}
	if s.many == nil {
		s.many = make(map[string]bool)
	}
	s.many[name] = true
	return true
}

// str reads a string token. One with escapes is handed to encoding/json
// to unescape, so surrogates and the like come out exactly as it decodes
// them; Tessera issues none.
func (d *decoder) str() (string, error) {
	if d.next() != '"' {
		return "", errors.New("not a string")
	}
	start := d.i
	d.i++
	escaped := false
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			if !escaped {
				return d.s[start+1 : d.i-1], nil
			}
			var s string
			if err := json.Unmarshal([]byte(d.s[start:d.i]), &s); err != nil {
				return "", errSyntax
			}
			return s, nil
		case c < 0x20:
			return "", errSyntax
		case c == '\\':
			escaped = true
			d.i++
			if d.i >= len(d.s) {
				return "", errSyntax
			}
			switch d.s[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i++
			case 'u':
				if d.i+5 > len(d.s) {
					return "", errSyntax
				}
				for _, h := range []byte(d.s[d.i+1 : d.i+5]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return "", errSyntax
					}
				}
				d.i += 5
			default:
				return "", errSyntax
			}
		default:
			d.i++
		}
	}
	return "", errSyntax
}

// number reads a number token (RFC 8259 §6) and returns its text.
func (d *decoder) number() (string, error) {
	d.ws()
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.s) && d.s[d.i] == '0':
		d.i++
	case d.digits() == 0:
		return "", errors.New("not a number")
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return "", errSyntax
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return "", errSyntax
		}
	}
	return d.s[start:d.i], nil
}

func (d *decoder) digits() int {
	start := d.i
	for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}

// int64 reads a number that fits an int64 with no fraction or exponent,
// what encoding/json accepts for an int64 field.
func (d *decoder) int64() (int64, error) {
	t, err := d.number()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, errors.New("not an int64")
	}
	return n, nil
}

// strs reads an array of strings.
func (d *decoder) strs() ([]string, error) {
	if d.next() != '[' {
		return nil, errors.New("not an array")
	}
	out := make([]string, 0, 1)
	err := d.elements(func() error {
		s, err := d.str()
		out = append(out, s)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// elements calls elem for each element of the array at the next token;
// elem must consume the element.
func (d *decoder) elements(elem func() error) error {
	if d.depth++; d.depth > maxDepth {
		return errSyntax
	}
	d.i++
	if d.next() == ']' {
		d.i++
		d.depth--
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch d.next() {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// skip reads any one value.
func (d *decoder) skip() error {
	switch c := d.next(); {
	case c == '{':
		return d.members(func(string) error { return d.skip() })
	case c == '[':
		return d.elements(d.skip)
	case c == '"':
		_, err := d.str()
		return err
	case c == '-' || '0' <= c && c <= '9':
		_, err := d.number()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	}
	return errSyntax
}

func (d *decoder) literal(lit string) error {
	if !strings.HasPrefix(d.s[d.i:], lit) {
		return errSyntax
	}
	d.i += len(lit)
	return nil
}

// header is what Verify reads from a JWS protected header.
type header struct {
	alg, kid, typ string
}

// parseHeader reads a protected header that may hold only alg, kid and
// typ, as strings. Every other member (jku, x5u, x5c, jwk, crit, b64, …)
// is refused outright: a verifier that never reads a member cannot be
// tricked by it.
func parseHeader(s string) (header, error) {
	var h header
	if !utf8.ValidString(s) {
		return h, errors.New("invalid UTF-8")
	}
	d := decoder{s: s}
	err := d.object(func(name string) error {
		var err error
		switch name {
		case "alg":
			h.alg, err = d.str()
		case "kid":
			h.kid, err = d.str()
		case "typ":
			h.typ, err = d.str()
		default:
			return fmt.Errorf("%q header", name)
		}
		if err != nil {
			return fmt.Errorf("%q: %v", name, err)
		}
		return nil
	})
	if err == nil {
		err = d.end()
	}
	return h, err
}

// claimNames are the JSON names of Claims' fields.
var claimNames = [...]string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "sid", "auth_time", "acr", "amr", "cnf"}

// parseClaims decodes the payload strictly: one JSON object, no duplicate
// member names, and the types Claims declares. It decodes what
// encoding/json would into Claims, except that it refuses where
// encoding/json silently picks a reading: a member whose name matches a
// claim's only case-insensitively ("ISS", "ſub"), which encoding/json
// takes for the claim and case-sensitive parsers ignore; null for a claim
// or inside one, which encoding/json reads as "absent"; and duplicate
// members of "cnf".
func parseClaims(payload string) (*Claims, error) {
	if !utf8.ValidString(payload) {
		return nil, fmt.Errorf("%w: invalid UTF-8", ErrClaims)
	}
	d := decoder{s: payload}
	c := new(Claims)
	err := d.object(func(name string) error {
		var err error
		switch name {
		case "iss":
			c.Issuer, err = d.str()
		case "sub":
			c.Subject, err = d.str()
		case "aud":
			c.Audience, err = d.audience()
		case "exp":
			c.Expiry, err = d.int64()
		case "iat":
			c.IssuedAt, err = d.int64()
		case "nbf":
			c.NotBefore, err = d.int64()
		case "jti":
			c.ID, err = d.str()
		case "client_id":
			c.ClientID, err = d.str()
		case "scope":
			c.Scope, err = d.str()
		case "sid":
			c.SessionID, err = d.str()
		case "auth_time":
			c.AuthTime, err = d.int64()
		case "acr":
			c.ACR, err = d.str()
		case "amr":
			c.AMR, err = d.strs()
		case "cnf":
			c.Confirmation, err = d.strMap()
		default:
			for _, n := range claimNames {
				if strings.EqualFold(name, n) {
					return fmt.Errorf("member %q is %q in another case", name, n)
				}
			}
			return d.skip()
		}
		if err != nil {
			return fmt.Errorf("%q: %v", name, err)
		}
		return nil
	})
	if err == nil {
		err = d.end()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrClaims, err)
	}
	return c, nil
}

// audience reads "aud": a string or an array of strings (RFC 7519 §4.1.3).
func (d *decoder) audience() (Audience, error) {
	if d.next() == '"' {
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return Audience{s}, nil
	}
	a, err := d.strs()
	if err != nil {
		return nil, errors.New("not a string or an array of strings")
	}
	return a, nil
}

// strMap reads an object of strings, such as "cnf".
func (d *decoder) strMap() (map[string]string, error) {
	m := make(map[string]string, 1)
	err := d.object(func(name string) error {
		s, err := d.str()
		m[name] = s
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}
