package server

import (
	"net/http"
	"strings"
)

// CORS for single-page apps on another origin (Fetch standard, "CORS
// protocol"). Only the configured origins (public_origin and
// allowed_origins) are answered, each by name and with credentials, never
// with "*"; every /v1 and /oauth2 answer varies by Origin.
//
// A browser request from any other origin is refused before its handler
// runs. Without this, a "simple" cross-origin request (a form-encoded POST
// needs no preflight) is executed and only its answer is hidden: a
// refresh at /oauth2/token from a hostile page rotates the SPA's refresh
// token, and the SPA's next refresh is then taken for reuse and ends the
// session.

var (
	hdrVaryOrigin   = []string{"Origin"}
	hdrTrue         = []string{"true"}
	hdrCORSMethods  = []string{"GET, POST, PUT, PATCH, DELETE"}
	hdrCORSHeaders  = []string{"Authorization, Content-Type, X-CSRF-Token, DPoP"}
	hdrCORSExpose   = []string{"WWW-Authenticate, Retry-After, DPoP-Nonce"}
	hdrCORSMaxAge   = []string{"600"}
	corsRefusalText = "Cross-origin request from an origin that is not allowed (allowed_origins)."
)

// corsScope reports whether path is an API path the CORS rule governs.
// Forward auth is not: the Origin it sees is the protected app's
// visitor's, which forwardauth judges itself.
func corsScope(path string) bool {
	if strings.HasPrefix(path, "/v1/") {
		return path != verifyPath
	}
	return strings.HasPrefix(path, "/oauth2/")
}

// cors applies the rule above in front of the public API's routes.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !corsScope(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		if v, ok := h["Vary"]; ok {
			h["Vary"] = append(v, "Origin")
		} else {
			h["Vary"] = hdrVaryOrigin
		}
		origin := r.Header.Get("Origin")
		if origin == "" {
			// Not a browser's cross-origin request (browsers send Origin
			// on every one that can change state, RFC 6454 §7).
			next.ServeHTTP(w, r)
			return
		}
		allowed := origin != "null" && s.origins[origin]
		own := !allowed && origin != "null" && s.cfg.PublicOrigin == "" && origin == requestOrigin(r)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		switch {
		case allowed:
			h["Access-Control-Allow-Origin"] = []string{origin}
			h["Access-Control-Allow-Credentials"] = hdrTrue
			if preflight {
				h["Access-Control-Allow-Methods"] = hdrCORSMethods
				h["Access-Control-Allow-Headers"] = hdrCORSHeaders
				h["Access-Control-Max-Age"] = hdrCORSMaxAge
				h["Cache-Control"] = hdrNoStore
				w.WriteHeader(http.StatusNoContent)
				return
			}
			h["Access-Control-Expose-Headers"] = hdrCORSExpose
		case own:
			// Same origin: no CORS, the handler's own checks apply.
		case preflight:
			// No CORS headers: the browser stops here.
			h["Cache-Control"] = hdrNoStore
			w.WriteHeader(http.StatusForbidden)
			return
		default:
			s.refuseCrossOrigin(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refuseCrossOrigin answers a browser request from an origin that is not
// allowed, in the error format of the endpoint it was sent to.
func (s *Server) refuseCrossOrigin(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/oauth2/") {
		writeTokenError(w, newTokenError(http.StatusForbidden, "invalid_request", corsRefusalText))
		return
	}
	writeProblem(w, errCSRF(corsRefusalText))
}
