package server

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"
)

const formMediaType = "application/x-www-form-urlencoded"

// readForm parses an application/x-www-form-urlencoded body strictly:
// bounded size, UTF-8, and no parameter sent twice (RFC 6749 §3.2). A
// parameter sent without a value is treated as omitted (RFC 6749 §3.1,
// §3.2): clients such as zitadel/oidc send an empty client_id beside HTTP
// Basic authentication.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, string) {
	if !isFormType(r.Header.Get("Content-Type")) {
		return nil, "send Content-Type: application/x-www-form-urlencoded"
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, "the request body is too large or unreadable"
	}
	if r.URL.RawQuery != "" {
		return nil, "parameters go in the body, not the query string"
	}
	v, problem := parseForm(body)
	for k, vals := range v {
		if vals[0] == "" {
			delete(v, k)
		}
	}
	return v, problem
}

// isFormType reports whether ct names the form media type. The usual
// spelling is recognised without the media-type parser.
func isFormType(ct string) bool {
	if ct == formMediaType {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == formMediaType
}

// bodyBufs are read buffers for request bodies: a body is copied out once,
// into the string the caller keeps.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// readBody reads r's body, at most maxBody bytes (beyond that the
// connection is closed, as with http.MaxBytesReader).
func readBody(w http.ResponseWriter, r *http.Request) (string, error) {
	rd := http.MaxBytesReader(w, r.Body, maxBody)
	bp := bodyBufs.Get().(*[]byte)
	b := (*bp)[:0]
	var err error
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		var n int
		n, err = rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			break
		}
	}
	var s string
	if err == io.EOF {
		s, err = string(b), nil
	}
	if cap(b) <= 16<<10 { // do not keep the rare large buffer
		*bp = b[:0]
		bodyBufs.Put(bp)
	}
	return s, err
}

// maxFastParams bounds the parameters parseForm splits itself; a body
// with more goes through url.ParseQuery (and its own limit).
const maxFastParams = 32

// parseForm is url.ParseQuery followed by the strict checks: a repeated
// parameter or one that is not UTF-8 is refused. A body with nothing to
// unescape and no semicolon (every token Tessera issues, base64url or
// base62, is one) is split in place instead: the same pairs, without
// url.ParseQuery's byte-by-byte unescaping of a ~600-byte JWT.
func parseForm(body string) (url.Values, string) {
	if amps := strings.Count(body, "&"); amps < maxFastParams &&
		strings.IndexByte(body, '%') < 0 && strings.IndexByte(body, '+') < 0 && strings.IndexByte(body, ';') < 0 {
		v := make(url.Values, 4)
		vals := make([]string, amps+1) // one backing array for every value slice
		n := 0
		for rest := body; rest != ""; {
			var pair string
			pair, rest, _ = strings.Cut(rest, "&")
			if pair == "" {
				continue
			}
			k, val, _ := strings.Cut(pair, "=")
			if _, dup := v[k]; dup {
				return nil, fmt.Sprintf("parameter %q is repeated", k)
			}
			vals[n] = val
			v[k] = vals[n : n+1 : n+1]
			n++
		}
		// Keys and values are the body split at ASCII bytes: each is
		// UTF-8 exactly when the whole body is.
		if !utf8.ValidString(body) {
			return nil, "parameters must be UTF-8"
		}
		return v, ""
	}
	return parseFormSlow(body)
}

// parseFormSlow is url.ParseQuery followed by the strict checks: the
// general case, and the reference the fast path is fuzzed against.
func parseFormSlow(body string) (url.Values, string) {
	v, err := url.ParseQuery(body)
	if err != nil {
		return nil, "malformed form body"
	}
	for k, vals := range v {
		if len(vals) > 1 {
			return nil, fmt.Sprintf("parameter %q is repeated", k)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(vals[0]) {
			return nil, "parameters must be UTF-8"
		}
	}
	return v, ""
}
