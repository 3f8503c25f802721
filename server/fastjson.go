package server

import (
	"net/http"
	"sync"
)

// The hottest answers (whoami, introspection) are appended by hand
// (protocol.AppendWhoami, protocol.AppendIntrospection) into a pooled
// buffer instead of going through encoding/json's reflection.

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

var (
	jsonType = []string{"application/json"}
	noStore  = []string{"no-store"}
	// noCache goes with every no-store answer: RFC 6749 §5.1 asks for
	// Pragma: no-cache beside Cache-Control: no-store on answers carrying
	// tokens (login, token, password change, client registration), for
	// HTTP/1.0 caches; sending it with every uncacheable answer keeps the
	// rule in one place.
	noCache = []string{"no-cache"}
)

// writeAppended answers 200 with the JSON appendJSON writes for v, built in
// a pooled buffer, uncacheable.
func writeAppended[T any](w http.ResponseWriter, v *T, appendJSON func([]byte, *T) []byte) {
	bp := bufPool.Get().(*[]byte)
	b := appendJSON((*bp)[:0], v)
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"], h["Pragma"] = noStore, noCache
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	*bp = b
	bufPool.Put(bp)
}
