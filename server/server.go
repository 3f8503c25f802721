package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/account"
	"github.com/tessera-auth/tessera/authflow"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/clientip"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/forwardauth"
	"github.com/tessera-auth/tessera/origin"
	"github.com/tessera-auth/tessera/probe"
	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/tokenstate"
)

// Store is what the handlers read directly; everything else goes through
// the domain packages.
type Store interface {
	UserByID(ctx context.Context, id string) (store.User, error)
	ListUsers(ctx context.Context) ([]store.User, error)
	ListUsersPage(ctx context.Context, q store.UserQuery) ([]store.User, error)
	UpdateUser(ctx context.Context, userID string, u store.UserUpdate) (store.User, []string, error)
	CountLiveSessions(ctx context.Context, now time.Time) (int, error)
	Ping(ctx context.Context) error
}

// Config is what the HTTP layer needs to know.
type Config struct {
	// PublicOrigin, if set, is the only origin treated as same-origin for
	// CSRF checks besides AllowedOrigins; otherwise the request's own origin is.
	PublicOrigin   string
	AllowedOrigins []string
	// InsecureDevCookies drops Secure and the __Host- prefix (plain-HTTP development only).
	InsecureDevCookies bool
	SameSiteStrict     bool
	LogRequests        bool
	// AdminToken is the admin API credential.
	AdminToken string
	// ForwardAuth is the policy of /v1/auth/verify (its Origins and Now are
	// the server's); ForwardAuthHeaders names its identity headers.
	ForwardAuth        forwardauth.Config
	ForwardAuthHeaders ForwardAuthHeaders
	// MetricsApart keeps GET /metrics off the admin listener: the metrics
	// are served on a listener of their own (Metrics.Handler), or not at
	// all (config metrics_listen).
	MetricsApart bool
	// Events receives what the HTTP layer still decides itself
	// (event.AdminAction), and is handed to the token-state service
	// (event.Introspected, TokenRevoked). nil: none.
	Events event.Sink
	// Probes bounds token probing (failed bearer credentials and
	// introspections); nil: probe.DefaultLimits, events to Events.
	Probes *probe.Limiter
}

// Server serves the public and admin APIs. Build one with New.
type Server struct {
	cfg      Config
	st       Store
	audit    AuditReader // nil: no audit API
	alerts   AlertReader // nil: no alerts API
	sessions *session.Manager
	authn    *authn.Authenticator
	ips      *clientip.Resolver
	log      *slog.Logger
	metrics  *Metrics
	keys     Keys // nil: no JWKS or key routes
	// revs is the node's revocation-feed follower: the access-token
	// denylist, and what a feed long poll waits on.
	revs *revocation.Follower

	oauth      OAuth // nil: no token delivery, no /oauth2/*
	feed       *revocation.Feed
	atVerifier *accesstoken.Verifier
	verified   *verifiedTokens
	oauthCfg   OAuthConfig
	tokenStore TokenStore
	tokens     *tokenstate.Service // introspection and RFC 7009 revocation
	probes     *probe.Limiter
	flows      *authflow.Flows  // login, second factors, step-up, password change
	fwd        *forwardAuth     // /v1/auth/verify
	accounts   *account.Service // the user lifecycle (admin API)
	// clientAdmin is the client lifecycle, when the OAuth service offers it.
	clientAdmin ClientAdmin
	now         func() time.Time

	// mfa manages second factors (nil: none); see WithMFA.
	mfa        MFA
	mfaPolicy  authflow.MFAPolicy
	challenges authflow.Challenges
	// passkeys is WebAuthn (nil: off); see WithWebAuthn.
	passkeys       Passkeys
	factorRemovals FactorRemovals

	cookieName string
	adminHash  [32]byte
	origins    map[string]bool
	// crossSite are the allowed_origins, which may be another site.
	crossSite map[string]bool
	// originPolicy is the same-origin rule over origins and crossSite.
	originPolicy origin.Policy
}

// New returns a server. now is the clock (nil: time.Now).
func New(cfg Config, st Store, sm *session.Manager, an *authn.Authenticator, ips *clientip.Resolver, m *Metrics, log *slog.Logger, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, st: st, sessions: sm, revs: sm.Follower(), authn: an, ips: ips, log: log, metrics: m, now: now,
		cookieName: "__Host-tessera_session",
		adminHash:  sha256.Sum256([]byte(cfg.AdminToken)),
		origins:    map[string]bool{},
		crossSite:  map[string]bool{},
	}
	s.flows = s.newFlows()
	if s.probes = cfg.Probes; s.probes == nil {
		s.probes = probe.New(probe.DefaultLimits(), cfg.Events, now)
	}
	s.accounts = account.New(st, sm, an, s.now)
	if cfg.InsecureDevCookies {
		// Browsers refuse __Host- cookies without Secure.
		s.cookieName = "tessera_session"
	}
	for _, o := range append([]string{cfg.PublicOrigin}, cfg.AllowedOrigins...) {
		if o != "" {
			s.origins[normalizeOrigin(o)] = true
		}
	}
	for _, o := range cfg.AllowedOrigins {
		if o != "" && normalizeOrigin(o) != normalizeOrigin(cfg.PublicOrigin) {
			s.crossSite[normalizeOrigin(o)] = true
		}
	}
	s.originPolicy = origin.Policy{SameSite: s.origins, CrossSite: s.crossSite}
	s.buildForwardAuth()
	return s
}

func normalizeOrigin(o string) string {
	u, err := url.Parse(o)
	if err != nil {
		return o
	}
	return u.Scheme + "://" + u.Host
}

// WithKeys serves the JWKS and the admin key routes from ks.
func (s *Server) WithKeys(ks Keys) *Server {
	s.keys = ks
	return s
}

// CookieName returns the session cookie's name.
func (s *Server) CookieName() string { return s.cookieName }

// Public returns the public API handler. Each area mounts its own routes:
// a new one (MFA, OIDC, web pages) adds a file and a mount call here.
func (s *Server) Public() http.Handler {
	mux := http.NewServeMux()
	s.mountSession(mux)
	s.mountForwardAuth(mux)
	s.mountMFA(mux)
	s.mountWebAuthn(mux)
	s.mountJWKS(mux)
	s.mountOAuth(mux)
	s.health(mux)
	return s.common("public", s.cors(mux))
}

// Admin returns the admin API handler. Every route but health checks needs
// the admin bearer token.
func (s *Server) Admin() http.Handler {
	mux := http.NewServeMux()
	s.mountAdmin(mux)
	s.mountAdminUsers(mux)
	s.mountAdminMFA(mux)
	s.mountAdminClients(mux)
	s.mountAdminKeys(mux)
	s.mountAdminAudit(mux)
	s.mountAdminAlerts(mux)
	outer := http.NewServeMux()
	s.health(outer)
	// Metrics only here: login, session and theft-signal counts are the
	// operator's, not anyone's who can reach the public listener.
	if s.metrics != nil && !s.cfg.MetricsApart {
		outer.Handle("GET /metrics", s.metrics.Handler())
	}
	outer.Handle("/", s.adminOnly(mux))
	return s.common("admin", outer)
}

func (s *Server) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		// Ready means able to commit, not only to answer: the store
		// reports recent write failures and probes an idle disk
		// (store/readiness). The answer names the dependency; the log
		// says why.
		if err := s.st.Ping(ctx); err != nil {
			p := errUnavailable()
			p.Detail = "Not ready: the store cannot answer or cannot commit writes (disk full, read-only or damaged database, failed fsync, lost connection); the server log says which."
			return p.because(fmt.Errorf("readiness check failed: %w", err))
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	}))
}

func (s *Server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The public API's rule for the header (credential): one
		// Authorization header, a well-formed Bearer one. Answers go
		// through the funnel like every other.
		authz, one := authorization(r.Header)
		raw, ok, malformed := bearerCredential(authz)
		if !one || malformed {
			p := newProblem(http.StatusBadRequest, "invalid_request", "Send one header: Authorization: Bearer <admin token>.")
			p.challenge = `Bearer realm="tessera-admin", error="invalid_request"`
			s.fail(w, r, p)
			return
		}
		got := sha256.Sum256([]byte(raw))
		// Comparing fixed-length hashes in constant time leaks neither the
		// token nor its length.
		if !ok || s.cfg.AdminToken == "" || subtle.ConstantTimeCompare(got[:], s.adminHash[:]) != 1 {
			p := newProblem(http.StatusUnauthorized, "unauthenticated", "The admin API needs Authorization: Bearer <admin token>.")
			p.challenge = `Bearer realm="tessera-admin"`
			s.fail(w, r, p)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// addrString is a's text, "" if a is the zero address.
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// use is the context of a request's credential, for validation events.
func (s *Server) use(r *http.Request) session.Use {
	return session.Use{IP: s.ips.ClientIP(r), UserAgent: r.UserAgent()}
}

func (s *Server) publish(ctx context.Context, e event.Event) {
	if s.cfg.Events != nil {
		if e.At.IsZero() {
			e.At = s.now().UTC()
		}
		s.cfg.Events.Publish(ctx, e)
	}
}

// adminAction publishes an event.AdminAction by the admin API.
func (s *Server) adminAction(r *http.Request, e event.Event) {
	e.Kind, e.Actor, e.IP, e.UserAgent = event.AdminAction, event.ActorAdminAPI, s.ips.ClientIP(r), r.UserAgent()
	s.publish(r.Context(), e)
}

// sessionProblem maps a validation failure to its response.
func sessionProblem(err error) *problem {
	switch {
	case errors.Is(err, session.ErrUnavailable):
		return errUnavailable().because(fmt.Errorf("session validation failed: %w", err))
	case errors.Is(err, session.ErrInvalid), errors.Is(err, session.ErrExpired), errors.Is(err, session.ErrRevoked):
		return errInvalidToken()
	}
	return errInternal().because(fmt.Errorf("session validation failed: %w", err))
}
