package config

import (
	"fmt"
	"net/textproto"
	"strings"
)

// ForwardAuth configures GET /v1/auth/verify, the forward-auth endpoint
// for reverse proxies (docs/proxies.md).
type ForwardAuth struct {
	// CSRF is the rule for cookie-authenticated unsafe methods: token
	// (same origin and the session's X-CSRF-Token, as Tessera's own API)
	// or origin (same origin only, for upstreams with plain HTML forms).
	// Default token.
	CSRF string `yaml:"csrf"`
	// Headers names the identity headers of a 200 answer.
	Headers ForwardAuthHeaders `yaml:"headers"`
	// ServiceTokens admits client_credentials tokens. Default off.
	ServiceTokens ServiceTokens `yaml:"service_tokens"`
	// Rules add requirements per host and path prefix; every matching
	// rule applies. Default none. YAML only (no TESSERA_* variable).
	Rules []ForwardAuthRule `yaml:"rules"`
}

// ForwardAuthHeaders are the names of the identity headers. Defaults
// X-Tessera-User-Id, X-Tessera-Username, X-Tessera-Session-Id,
// X-Tessera-Client-Id, X-Tessera-Scope, X-Tessera-Aal.
type ForwardAuthHeaders struct {
	UserID    string `yaml:"user_id"`
	Username  string `yaml:"username"` // e.g. Remote-User, as Authelia sends
	SessionID string `yaml:"session_id"`
	ClientID  string `yaml:"client_id"`
	Scope     string `yaml:"scope"`
	AAL       string `yaml:"aal"`
}

// ServiceTokens admits client_credentials access tokens (a client, no
// user) at forward auth. Enabled needs scope or audience: a service token
// must be meant for the protected services, not merely valid.
type ServiceTokens struct {
	// Enabled admits them. Default false.
	Enabled bool `yaml:"enabled"`
	// Scope lists scopes a service token must all carry. Default none.
	Scope []string `yaml:"scope"`
	// Audience, if set, must be in a service token's aud; opaque tokens
	// carry none and are then refused. Default none.
	Audience string `yaml:"audience"`
}

// ForwardAuthRule requires more of requests to a host and path prefix.
type ForwardAuthRule struct {
	// Host is the request's host (exact, case-insensitive); empty: any.
	Host string `yaml:"host"`
	// PathPrefix matches whole segments (/admin: /admin, /admin/x, not
	// /administrator); empty: any.
	PathPrefix string `yaml:"path_prefix"`
	// Scope lists scopes the credential must all carry; session
	// credentials carry none, so only access tokens can pass.
	Scope []string `yaml:"scope"`
	// AAL is the lowest authenticator assurance level admitted; 0 any.
	AAL int `yaml:"aal"`
	// MaxAuthAge is the longest time since the user last authenticated
	// (auth_time); 0 any.
	MaxAuthAge Duration `yaml:"max_auth_age"`
}

// DefaultForwardAuth is the forward-auth default configuration.
func DefaultForwardAuth() ForwardAuth {
	return ForwardAuth{
		CSRF: "token",
		Headers: ForwardAuthHeaders{
			UserID: "X-Tessera-User-Id", Username: "X-Tessera-Username", SessionID: "X-Tessera-Session-Id",
			ClientID: "X-Tessera-Client-Id", Scope: "X-Tessera-Scope", AAL: "X-Tessera-Aal",
		},
	}
}

// validate reports the problems of f through bad.
func (f ForwardAuth) validate(bad func(field, format string, args ...any)) {
	switch f.CSRF {
	case "token", "origin":
	default:
		bad("forward_auth.csrf", "%q is not token or origin", f.CSRF)
	}
	h := f.Headers
	seen := map[string]string{}
	for field, name := range map[string]string{"user_id": h.UserID, "username": h.Username, "session_id": h.SessionID, "client_id": h.ClientID, "scope": h.Scope, "aal": h.AAL} {
		if !validHeaderName(name) {
			bad("forward_auth.headers."+field, "%q is not a header name", name)
			continue
		}
		c := textproto.CanonicalMIMEHeaderKey(name)
		if reservedHeaders[c] {
			bad("forward_auth.headers."+field, "%q is a header HTTP or the proxy gives a meaning", name)
			continue
		}
		if other, dup := seen[c]; dup {
			bad("forward_auth.headers."+field, "%q is also the %s header", name, other)
		}
		seen[c] = field
	}
	if s := f.ServiceTokens; s.Enabled && len(s.Scope) == 0 && s.Audience == "" {
		bad("forward_auth.service_tokens", "enabled needs a scope or an audience: a service token must be meant for the protected services")
	}
	for i, r := range f.Rules {
		field := fmt.Sprintf("forward_auth.rules[%d]", i)
		if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
			bad(field+".path_prefix", "%q must start with /", r.PathPrefix)
		}
		if r.AAL < 0 || r.AAL > 3 {
			bad(field+".aal", "must be 0 to 3")
		}
		if r.MaxAuthAge < 0 {
			bad(field+".max_auth_age", "must not be negative")
		}
		if len(r.Scope) == 0 && r.AAL == 0 && r.MaxAuthAge == 0 {
			bad(field, "requires nothing: set scope, aal or max_auth_age")
		}
	}
}

// reservedHeaders may not carry the identity: the proxy or HTTP itself
// act on them.
var reservedHeaders = map[string]bool{
	"Authorization": true, "Cookie": true, "Set-Cookie": true, "Host": true, "Connection": true,
	"Content-Length": true, "Content-Type": true, "Transfer-Encoding": true, "Trailer": true, "Upgrade": true,
	"Cache-Control": true, "Www-Authenticate": true, "Location": true, "Retry-After": true, "Vary": true,
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Forwarded-Method": true,
	"X-Forwarded-Uri": true, "Forwarded": true,
}

// validHeaderName reports whether s is an RFC 9110 §5.1 field name.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
