package forwardauth

import (
	"context"
	"errors"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/origin"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/token"
	"github.com/tessera-auth/tessera/tokenstate"
)

// Outcome is the answer a proxy acts on. There are exactly three: nginx's
// auth_request turns any other status into a 500.
type Outcome int

const (
	// Allow: pass the request on, with the identity.
	Allow Outcome = iota
	// Unauthenticated: no credential, or one that is not (or no longer)
	// valid; the client should log in again (401).
	Unauthenticated
	// Forbidden: a valid credential that may not do this here (CSRF,
	// a rule, a service token where none is accepted), or a credential
	// that could not be judged because the store is down (403).
	Forbidden
)

// Reasons, for logs, metrics and the body a direct caller sees.
const (
	ReasonNoCredential  = "no_credential"
	ReasonInvalid       = "invalid_token"
	ReasonCSRF          = "csrf"
	ReasonScope         = "insufficient_scope"
	ReasonAAL           = "insufficient_aal"
	ReasonAuthAge       = "auth_too_old"
	ReasonServiceToken  = "service_token_refused"
	ReasonUnavailable   = "unavailable"
	ReasonBadCredential = "malformed_credential"
)

// Identity is who the request is made as, for the upstream's headers.
type Identity struct {
	UserID, Username, SessionID string
	ClientID                    string // "" for a session credential
	Scope                       string // space-separated; "" for a session credential
	AAL                         int    // 0 for a service token
	// Service marks a client_credentials token: no user, no session.
	Service bool
}

// Decision is Check's answer.
type Decision struct {
	Outcome  Outcome
	Reason   string
	Identity Identity // set when Outcome is Allow
	// Err is why a credential could not be judged (Reason unavailable),
	// for the log; never shown to the client.
	Err error
}

// Target is the original request, as the proxy describes it. An empty
// field is unknown: an unknown method counts as unsafe (the CSRF rule
// applies), an unknown host or path matches every rule.
type Target struct {
	Method string
	Proto  string // "http" or "https"
	Host   string
	// Path is the request URI's path, still percent-encoded as the
	// client sent it (nginx's $request_uri); Check decodes and cleans it
	// before matching rules, as the upstream will.
	Path string
}

// Request is what the proxy forwarded: the original request's credentials
// and browser headers, and its Target.
type Request struct {
	Target Target
	// Bearer is the RFC 6750 §2.1 token of the Authorization header;
	// BearerMalformed is a Bearer header without a valid b64token.
	Bearer          string
	BearerMalformed bool
	// Cookie is the session cookie's value ("" if none).
	Cookie string
	// Origin, SecFetchSite and CSRFToken are the original request's
	// Origin, Sec-Fetch-Site and X-CSRF-Token headers.
	Origin, SecFetchSite, CSRFToken string
	// Use is the context of the credential's use, for validation events.
	Use session.Use
}

// CSRF modes for cookie-authenticated unsafe methods.
const (
	// CSRFToken requires a same-origin request and the session's
	// X-CSRF-Token, as Tessera's own API does. The default.
	CSRFToken = "token"
	// CSRFOrigin requires only a same-origin request (Origin or
	// Sec-Fetch-Site), for upstreams with plain HTML forms that cannot
	// send the header.
	CSRFOrigin = "origin"
)

// Rule adds requirements to requests whose host and path match. Every
// matching rule applies (there is no order to get wrong).
type Rule struct {
	Host       string // exact, case-insensitive; "" any
	PathPrefix string // segment-wise: /admin matches /admin and /admin/x, not /administrator; "" any
	// Scope lists scopes the credential must carry, all of them. Session
	// credentials (the cookie, a session bearer token) carry none, so a
	// rule with a scope admits only access tokens that hold it.
	Scope []string
	// AAL is the lowest authenticator assurance level admitted; 0 any.
	AAL int
	// MaxAuthAge is the longest time since the user last proved who they
	// are (auth_time); 0 any. Service tokens have no auth_time.
	MaxAuthAge time.Duration
}

// ServiceTokens admits client_credentials tokens, which stand for a client
// and no user. Off unless Enabled; when on, a token must carry every
// scope in Scope and, if Audience is set, that audience.
type ServiceTokens struct {
	Enabled  bool
	Scope    []string
	Audience string
}

// Config is the forward-auth policy.
type Config struct {
	// Origins are trusted for cookie-authenticated state changes besides
	// the target's own origin (its proto://host).
	Origins []string
	// CSRF is CSRFToken (default when empty) or CSRFOrigin.
	CSRF    string
	Service ServiceTokens
	Rules   []Rule
	Now     func() time.Time // nil: time.Now
}

// Sessions validates session tokens.
type Sessions interface {
	Validate(ctx context.Context, raw string, u session.Use) (session.Session, error)
}

// Tokens checks access tokens (tokenstate.Service).
type Tokens interface {
	Access(ctx context.Context, raw string, u session.Use) (tokenstate.Access, error)
}

// Checker decides forward-auth requests. Safe for concurrent use.
type Checker struct {
	sessions Sessions
	tokens   Tokens // nil: access tokens are never valid
	cfg      Config
	origins  map[string]bool
	rules    []Rule
}

// New returns a Checker. tokens may be nil when the server issues no access tokens.
func New(sessions Sessions, tokens Tokens, cfg Config) *Checker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CSRF == "" {
		cfg.CSRF = CSRFToken
	}
	c := &Checker{sessions: sessions, tokens: tokens, cfg: cfg, origins: map[string]bool{}}
	for _, o := range cfg.Origins {
		c.origins[strings.TrimSuffix(o, "/")] = true
	}
	for _, r := range cfg.Rules {
		r.Host = strings.ToLower(r.Host)
		if r.PathPrefix != "" && r.PathPrefix != "/" {
			r.PathPrefix = strings.TrimSuffix(r.PathPrefix, "/")
		}
		c.rules = append(c.rules, r)
	}
	return c
}

// Check decides req. A store that cannot answer is Forbidden, never Allow:
// fail closed, and (unlike Unauthenticated) it does not tell a client to
// throw its credential away or a browser to log in again, which could not
// succeed either.
func (c *Checker) Check(ctx context.Context, req Request) Decision {
	var id Identity
	var raw string
	fromCookie := false
	switch {
	case req.BearerMalformed:
		return Decision{Outcome: Unauthenticated, Reason: ReasonBadCredential}
	case req.Bearer != "":
		raw = req.Bearer
	case req.Cookie != "":
		raw, fromCookie = req.Cookie, true
	default:
		return Decision{Outcome: Unauthenticated, Reason: ReasonNoCredential}
	}
	var authTime time.Time
	kind := token.KindOf(raw)
	if !fromCookie && (kind == token.JWT || kind == token.Access) {
		if c.tokens == nil {
			return Decision{Outcome: Unauthenticated, Reason: ReasonInvalid}
		}
		a, err := c.tokens.Access(ctx, raw, req.Use)
		if err != nil {
			return failure(err)
		}
		id = Identity{ClientID: a.ClientID, Scope: a.Scope}
		if a.Session.ID == "" {
			if d, ok := c.service(a); !ok {
				return d
			}
			id.Service = true
		} else {
			s := a.Session
			id.UserID, id.Username, id.SessionID, id.AAL = s.UserID, s.Username, s.ID, s.AAL
			authTime = s.VouchedAuthTime()
		}
	} else {
		s, err := c.sessions.Validate(ctx, raw, req.Use)
		if err != nil {
			return failure(err)
		}
		id = Identity{UserID: s.UserID, Username: s.Username, SessionID: s.ID, AAL: s.AAL}
		authTime = s.VouchedAuthTime()
	}
	if fromCookie && !safe(req.Target.Method) {
		if !c.sameOrigin(req) {
			return Decision{Outcome: Forbidden, Reason: ReasonCSRF}
		}
		if c.cfg.CSRF == CSRFToken && (req.CSRFToken == "" || !session.CheckCSRF(raw, req.CSRFToken)) {
			return Decision{Outcome: Forbidden, Reason: ReasonCSRF}
		}
	}
	if reason := c.applyRules(req.Target, id, authTime); reason != "" {
		return Decision{Outcome: Forbidden, Reason: reason}
	}
	return Decision{Outcome: Allow, Identity: id}
}

// failure maps a validation error: a credential known to be bad is
// Unauthenticated; anything else (the store's silence above all) leaves
// it unjudged, which is Forbidden.
func failure(err error) Decision {
	if errors.Is(err, session.ErrInvalid) || errors.Is(err, session.ErrExpired) || errors.Is(err, session.ErrRevoked) {
		return Decision{Outcome: Unauthenticated, Reason: ReasonInvalid}
	}
	return Decision{Outcome: Forbidden, Reason: ReasonUnavailable, Err: err}
}

// service admits a client_credentials token only if they are enabled and
// it carries the required scope and audience.
func (c *Checker) service(a tokenstate.Access) (Decision, bool) {
	sp := c.cfg.Service
	refuse := Decision{Outcome: Forbidden, Reason: ReasonServiceToken}
	if !sp.Enabled {
		return refuse, false
	}
	if !hasScopes(a.Scope, sp.Scope) {
		return Decision{Outcome: Forbidden, Reason: ReasonScope}, false
	}
	if sp.Audience != "" && !slices.Contains(a.Audience, sp.Audience) {
		return refuse, false
	}
	return Decision{}, true
}

// safe reports whether m is a safe method (RFC 9110 §9.2.1) that the CSRF
// rule need not guard; an unknown method ("") is not.
func safe(m string) bool {
	return m == "GET" || m == "HEAD" || m == "OPTIONS"
}

// sameOrigin is the Origin rule of Tessera's own API (origin.Policy)
// applied to the original request; a request with neither Origin nor
// Sec-Fetch-Site (not a browser we can vouch for) is refused. Every
// trusted origin is trusted cross-site: unlike Tessera's own public
// origin on its API, each is another origin than the target (Tessera, a
// sibling app) and may well be another site.
func (c *Checker) sameOrigin(req Request) bool {
	r := origin.Request{Origin: req.Origin, SecFetchSite: req.SecFetchSite}
	if t := req.Target; t.Proto != "" && t.Host != "" {
		r.Target = t.Proto + "://" + t.Host
	}
	return origin.Policy{CrossSite: c.origins}.Check(r) == origin.Allowed
}

// applyRules returns why a matching rule refuses id, or "".
func (c *Checker) applyRules(t Target, id Identity, authTime time.Time) string {
	if len(c.rules) == 0 {
		return ""
	}
	host := strings.ToLower(t.Host)
	p, known := cleanPath(t.Path)
	now := c.cfg.Now()
	for _, r := range c.rules {
		if r.Host != "" && host != "" && r.Host != host {
			continue
		}
		if r.PathPrefix != "" && known && !underPrefix(p, r.PathPrefix) {
			continue
		}
		if len(r.Scope) > 0 && (id.ClientID == "" || !hasScopes(id.Scope, r.Scope)) {
			return ReasonScope
		}
		if r.AAL > 0 && id.AAL < r.AAL {
			return ReasonAAL
		}
		if r.MaxAuthAge > 0 && (authTime.IsZero() || now.Sub(authTime) > r.MaxAuthAge) {
			return ReasonAuthAge
		}
	}
	return ""
}

// cleanPath is the path the upstream will serve: the query dropped,
// percent-decoded, dot segments resolved. A path that does not decode
// (or is empty) is unknown.
func cleanPath(uri string) (string, bool) {
	if uri == "" {
		return "", false
	}
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	dec, err := url.PathUnescape(uri)
	if err != nil || !strings.HasPrefix(dec, "/") {
		return "", false
	}
	return path.Clean(dec), true
}

func underPrefix(p, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// hasScopes reports whether the space-separated scope holds every one of want.
func hasScopes(scope string, want []string) bool {
	for _, w := range want {
		found := false
		for s := range strings.FieldsSeq(scope) {
			if s == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
