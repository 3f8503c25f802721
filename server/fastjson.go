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
)

// writeAppended answers 200 with the JSON appendJSON writes for v, built in
// a pooled buffer, uncacheable.
func writeAppended[T any](w http.ResponseWriter, v *T, appendJSON func([]byte, *T) []byte) {
	bp := bufPool.Get().(*[]byte)
	b := appendJSON((*bp)[:0], v)
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	w.Write(b)
	*bp = b
	bufPool.Put(bp)
}
