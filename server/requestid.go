package server

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/tessera-auth/tessera/event"
)

// requestIDHeader names a request in the answer, the request log and the
// events published while serving it.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an id a proxy sends: room for a UUID, nginx's
// $request_id (32 hex digits) or a trace id, not for a log flood.
const maxRequestIDLen = 128

// requestID returns the request's id: the proxy's X-Request-Id when the
// TCP peer is a trusted proxy (clientip) and the id is well-formed — so one
// id follows a request through the proxy's log and ours — else a fresh
// random one. A client cannot choose the id that names its request in the
// log.
func (s *Server) requestID(r *http.Request) string {
	if v := r.Header[requestIDHeader]; len(v) == 1 && validRequestID(v[0]) && s.ips.FromTrustedProxy(r) {
		return v[0]
	}
	return newRequestID()
}

// newRequestID returns 64 random bits in hex: short enough to read in a
// log, unique enough to name a request among billions.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	var out [16]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// validRequestID accepts 1 to maxRequestIDLen characters from a set wide
// enough for UUIDs, hex, base64 and trace headers (AWS's Root=1-…;
// Sampled=1 aside) but without spaces, quotes, backslashes or control
// characters, which could forge or break a log line.
func validRequestID(v string) bool {
	if v == "" || len(v) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=', c == '@':
		default:
			return false
		}
	}
	return true
}

// withRequest names r: its id goes in the answer's X-Request-Id and, with
// the client's address and user agent, into the context the handlers pass
// to the domain, so every event published while serving r carries them
// (event.FromContext).
func (s *Server) withRequest(w http.ResponseWriter, r *http.Request) (*http.Request, *event.Request) {
	// One allocation holds the request and the header's value slice.
	n := &namedRequest{req: event.Request{ID: s.requestID(r), IP: s.ips.ClientIP(r), UserAgent: r.UserAgent()}}
	n.hdr[0] = n.req.ID
	w.Header()[requestIDHeader] = n.hdr[:] // canonical key: set directly
	return r.WithContext(event.WithRequest(r.Context(), &n.req)), &n.req
}

type namedRequest struct {
	req event.Request
	hdr [1]string
}
