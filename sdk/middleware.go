package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/protocol"
	"github.com/tessera-auth/tessera/token"
)

// CookieName is Tessera's session cookie. The __Host- prefix makes browsers
// refuse it unless Secure, host-only and Path=/ (RFC 6265bis §4.1.3.2).
const CookieName = "__Host-tessera_session"

// Principal is the authenticated caller of a request.
type Principal struct {
	Subject   string // "sub": the user id, or the client id for client_credentials
	SessionID string // "sid"; empty for client_credentials tokens
	ClientID  string
	Scopes    []string
	// FromCookie is true when the credential came from the session cookie:
	// such requests need CSRF protection (see CSRF).
	FromCookie bool
	// Exactly one of Claims (a locally verified JWT) and Introspection (an
	// opaque token Tessera vouched for) is set. Treat both as read-only.
	Claims        *accesstoken.Claims
	Introspection *Introspection

	// raw is the credential, kept only for the default CSRF check. Behind
	// a pointer so that fmt's %+v of a Principal prints an address, not it.
	raw *rawCredential
}

type rawCredential struct{ token string }

// HasScope reports whether the principal was granted scope.
func (p *Principal) HasScope(scope string) bool {
	return p != nil && slices.Contains(p.Scopes, scope)
}

// LogValue keeps a careless slog call from printing the raw credential.
func (p *Principal) LogValue() slog.Value {
	return slog.GroupValue(slog.String("sub", p.Subject), slog.String("sid", p.SessionID), slog.String("client_id", p.ClientID))
}

type principalKey struct{}

// PrincipalFrom returns the request's principal, or nil outside Middleware.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// WithPrincipal returns ctx carrying p, for handlers' own tests.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// MiddlewareOptions configure Middleware.
type MiddlewareOptions struct {
	// Verifier checks JWT access tokens locally. If nil, JWTs go to the
	// Introspector.
	Verifier *Verifier
	// Introspector checks opaque tokens (and session cookies). If nil,
	// opaque tokens are refused.
	Introspector *Introspector
	// Realm names the protected service in WWW-Authenticate. Default "api".
	Realm string
	// Cookie also accepts Tessera's session cookie (CookieName) when no
	// Authorization header is sent. Cookie apps must add CSRF too.
	Cookie bool
	// CookieName overrides CookieName (e.g. "tessera_session" for a server
	// run with --insecure-dev-cookies).
	CookieName string
	// Logger receives failures (never the token). Default: discard.
	Logger *slog.Logger
}

// Middleware authenticates every request: a bearer token (RFC 6750 §2.1;
// the query and form-body methods are refused, they leak into logs) or, if
// enabled, the session cookie. A JWT is verified locally; anything else is
// introspected. The handler sees the Principal via PrincipalFrom.
// A missing or bad credential answers 401; a decision that cannot be made
// (stale revocation feed, Tessera unreachable) answers 503, never a pass.
func Middleware(opts MiddlewareOptions) func(http.Handler) http.Handler {
	if opts.Realm == "" {
		opts.Realm = "api"
	}
	if opts.CookieName == "" {
		opts.CookieName = CookieName
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	realm := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(opts.Realm)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("access_token") {
				bearerError(w, realm, http.StatusBadRequest, "invalid_request", "Send the token in the Authorization header, not the URL.")
				return
			}
			raw, fromCookie, refused := credential(r, opts)
			if refused != "" {
				bearerError(w, realm, http.StatusBadRequest, "invalid_request", refused)
				return
			}
			if raw == "" {
				bearerError(w, realm, http.StatusUnauthorized, "", "A credential is required.")
				return
			}
			p, err := authenticate(r.Context(), opts, raw)
			if err != nil {
				if Temporary(err) {
					opts.Logger.Warn("tessera: cannot authenticate now", "err", err)
					w.Header().Set("Retry-After", "5")
					problem(w, http.StatusServiceUnavailable, "unavailable", "Authentication is temporarily unavailable.")
					return
				}
				opts.Logger.Info("tessera: credential refused", "err", err, "cookie", fromCookie)
				bearerError(w, realm, http.StatusUnauthorized, "invalid_token", "The credential is invalid, expired or revoked.")
				return
			}
			p.FromCookie = fromCookie
			p.raw = &rawCredential{raw}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

// credential returns the presented token by Tessera's own rule (one
// credential per request, RFC 6750 §2; protocol.ParseBearer for the
// header). refused is a client-safe reason for 400 invalid_request: two
// Authorization headers, a malformed Bearer one, a bearer token together
// with the session cookie, or two different session cookies. Another
// scheme (Basic, DPoP…) counts as no credential: this middleware does not
// speak it.
func credential(r *http.Request, opts MiddlewareOptions) (raw string, fromCookie bool, refused string) {
	var tok string
	switch vs := r.Header["Authorization"]; len(vs) {
	case 0:
	case 1:
		var ok, malformed bool
		tok, ok, malformed = protocol.ParseBearer(vs[0])
		if malformed || ok && len(tok) > accesstoken.MaxLen {
			return "", false, "Malformed Authorization header."
		}
	default:
		return "", false, "Send one Authorization header, not several."
	}
	var cookie string
	if opts.Cookie {
		for _, c := range r.CookiesNamed(opts.CookieName) {
			switch {
			case c.Value == "" || c.Value == cookie:
			case cookie == "":
				cookie = c.Value
			default:
				return "", false, "The request carries more than one session cookie."
			}
		}
	}
	switch {
	case tok != "" && cookie != "":
		return "", false, "Send a bearer token or the session cookie, not both."
	case tok != "":
		return tok, false, ""
	}
	return cookie, cookie != "", ""
}

func authenticate(ctx context.Context, opts MiddlewareOptions, raw string) (*Principal, error) {
	if token.KindOf(raw) == token.JWT && opts.Verifier != nil {
		c, err := opts.Verifier.Verify(ctx, raw)
		if err != nil {
			return nil, err
		}
		return &Principal{Subject: c.Subject, SessionID: c.SessionID, ClientID: c.ClientID, Scopes: strings.Fields(c.Scope), Claims: c}, nil
	}
	if opts.Introspector == nil {
		return nil, errors.New("sdk: opaque token but no Introspector configured")
	}
	in, err := opts.Introspector.Introspect(ctx, raw)
	if err != nil {
		return nil, err
	}
	return &Principal{Subject: in.Sub, SessionID: in.Sid, ClientID: in.ClientID, Scopes: strings.Fields(in.Scope), Introspection: in}, nil
}

// RequireScope admits only principals granted scope; others get 403 with
// RFC 6750 §3.1 insufficient_scope (401 if Middleware did not run first).
func RequireScope(scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := PrincipalFrom(r.Context())
			if p == nil {
				bearerError(w, "api", http.StatusUnauthorized, "", "A credential is required.")
				return
			}
			if !p.HasScope(scope) {
				w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+strings.ReplaceAll(scope, `"`, "")+`"`)
				problem(w, http.StatusForbidden, "insufficient_scope", "The token lacks a required scope.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearerError answers with an RFC 6750 §3 challenge. With no credential at
// all, §3.1 says the error attribute should not be sent.
func bearerError(w http.ResponseWriter, realm string, status int, code, detail string) {
	ch := `Bearer realm="` + realm + `"`
	if code != "" {
		ch += `, error="` + code + `"`
	}
	w.Header().Set("WWW-Authenticate", ch)
	if code == "" {
		code = "unauthenticated"
	}
	problem(w, status, code, detail)
}

// problem writes an RFC 9457 body shaped like Tessera's own.
func problem(w http.ResponseWriter, status int, code, detail string) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(protocol.Problem{
		Type: "urn:tessera:problem:" + code, Title: http.StatusText(status), Status: status, Detail: detail, Code: code,
	})
}
