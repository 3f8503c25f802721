package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/audit"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/clientip"
	"github.com/tessera-auth/tessera/cluster"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/detect"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/passkey"
	"github.com/tessera-auth/tessera/redisstate"
	"github.com/tessera-auth/tessera/revocation"
	"github.com/tessera-auth/tessera/server"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

// Options are what a caller supplies besides the configuration.
type Options struct {
	// Logger receives the JSON logs; nil discards them.
	Logger *slog.Logger
	// Now is every service's clock; nil means time.Now.
	Now func() time.Time
	// Access is what opening the store may do: Migrate for `tessera
	// serve`; Existing (the zero value) opens only a current store.
	Access Access
	// AdminToken, if set, is the admin API credential, instead of
	// TESSERA_ADMIN_TOKEN or the data folder's admin-token file.
	AdminToken string
}

// App is one Tessera server, wired: the store, the domain services and the
// HTTP handlers over them. Its fields are for reading; New sets them.
type App struct {
	Config    config.Config
	StoreInfo StoreInfo
	Store     store.Store
	Sessions  *session.Manager
	Auth      *authn.Authenticator
	Keyring   Keyring
	Keys      *keys.Keyset
	OAuth     *oauth.Service
	Verifier  *accesstoken.Verifier
	MFA       *mfa.Service
	Passkeys  *passkey.Service // nil when no WebAuthn relying party is configured
	Metrics   *server.Metrics
	Events    *event.Fanout // every domain event; subscribe before serving
	Server    *server.Server
	// Redis is the state shared with the other nodes (config redis.url);
	// nil without one.
	Redis *redisstate.Client
	// Audit writes the audit log (nil when config turns it off);
	// AuditChain keys it.
	Audit      *audit.Writer
	AuditChain *audit.Chain
	// Detect runs the detection rules (nil when config turns them off).
	Detect *detect.Engine
	// Listener carries revocations between the nodes sharing the store
	// when its backend offers that (PostgreSQL LISTEN/NOTIFY); nil otherwise.
	Listener store.FeedListener

	// AdminTokenSource is TESSERA_ADMIN_TOKEN, the admin-token file's path,
	// or "Options.AdminToken"; AdminTokenCreated is set on first start.
	AdminTokenSource  string
	AdminTokenCreated bool

	// Holder names this node in the store's leases (cluster.Holder).
	Holder string

	log *slog.Logger
	now func() time.Time

	// notifiers carry revocations to the other nodes (Redis pub/sub, the
	// store's Listener), joined into the session manager's; runners keep
	// the Redis subscription up.
	notifiers []revocation.Notifier
	runners   []func(context.Context)
	// stopJoin ends the relays of the joined notifiers (revocation.Join).
	stopJoin context.CancelFunc

	// gcLease and keysLease make the cleanup and the scheduled key
	// rotation run on one node of the cluster at a time.
	gcLease, keysLease *cluster.Lease
}

// Lease terms: each outlasts the interval at which its holder renews it
// (gc: hourly; keys: every keys.Config.Reload, 30 s), so a job stays on one
// node while it lives, and moves within a term when it stops.
const (
	gcInterval   = time.Hour
	gcLeaseTTL   = 2 * time.Hour
	keysLeaseTTL = 2 * time.Minute
)

// New validates c, opens its store (doing what opt.Access allows), reads or creates the
// admin token and the master key, loads the signing keys, builds the
// domain services and the HTTP server, and loads the revocation feed's
// cursor and live denials: a server must not answer before it knows what
// was revoked before it started. Call Run for the background loops and
// Close when done.
func New(ctx context.Context, c config.Config, opt Options) (*App, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	a := &App{Config: c, log: opt.Logger, now: opt.Now}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	st, info, err := OpenStore(ctx, c, opt.Access)
	if err != nil {
		return nil, err
	}
	a.Store, a.StoreInfo = st, info
	if len(info.Applied) > 0 {
		a.log.Info("schema migrated", "store", info.Location, "applied", info.Applied, "version", info.Schema.Current)
	}
	if info.CheckWarning != "" {
		a.log.Warn("store check incomplete; started without it", "store", info.Location, "err", info.CheckWarning)
	}
	if err := a.settle(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if err := a.wire(ctx, opt); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// feedListening is a store backend that tells the processes sharing it of
// each other's revocations itself (PostgreSQL: LISTEN/NOTIFY). directURL,
// if set, reaches the same database without a transaction-mode pooler.
type feedListening interface {
	ListenFeed(ctx context.Context, directURL string, log *slog.Logger) (store.FeedListener, error)
}

// settle checks this node's issuer and public origin against the
// cluster's (cluster.Settle), records them if it is the first node, and
// adopts the cluster's where the configuration leaves them unset.
func (a *App) settle(ctx context.Context) error {
	c := &a.Config
	want := cluster.Want{Issuer: c.Policy.Tokens.Issuer, PublicOrigin: c.PublicOrigin}
	if want.Issuer == "" {
		want.Issuer = c.PublicOrigin // Config.Issuer's default, explicit too
	}
	if sh, ok := a.Store.(interface{ Shared() bool }); ok {
		want.Shared = sh.Shared()
	}
	s, err := cluster.Settle(ctx, a.Store, want)
	if err != nil {
		return err
	}
	if s.Issuer != "" && s.Issuer != want.Issuer {
		a.log.Info("issuer adopted from the cluster's store", "issuer", s.Issuer)
	}
	if s.PublicOrigin != "" && s.PublicOrigin != want.PublicOrigin {
		a.log.Info("public origin adopted from the cluster's store", "public_origin", s.PublicOrigin)
	}
	if s.Issuer != "" {
		c.Policy.Tokens.Issuer = s.Issuer
	}
	if s.PublicOrigin != "" {
		c.PublicOrigin = s.PublicOrigin
	}
	return nil
}

func (a *App) wire(ctx context.Context, opt Options) error {
	c, st, log := a.Config, a.Store, a.log
	a.Holder = cluster.Holder()
	a.gcLease = cluster.NewLease(st, "gc", a.Holder, gcLeaseTTL, a.now)
	a.keysLease = cluster.NewLease(st, "keys", a.Holder, keysLeaseTTL, a.now)
	tok := opt.AdminToken
	a.AdminTokenSource = "Options.AdminToken"
	if tok == "" {
		var err error
		if tok, a.AdminTokenSource, a.AdminTokenCreated, err = AdminToken(c); err != nil {
			return err
		}
	}
	a.Metrics = server.NewMetrics(
		func(ctx context.Context) (int, error) { return st.CountLiveSessions(ctx, a.now()) },
		func() int { return a.Sessions.CacheLen() },
	)
	a.Events = NewEvents(log, a.Metrics)
	kr, err := openKeyring(ctx, c, st, log, a.Events, opt.Now, a.keysLease)
	if err != nil {
		return err
	}
	a.Keyring, a.Keys = kr, kr.Keys
	if err := a.wireAudit(kr.Master); err != nil {
		return err
	}
	if !c.InsecureDevCookies && MasterKeyBeside(c, kr.MasterSource) {
		log.Warn(MasterKeyBesideWarning, "master_key", kr.MasterSource)
	}
	if a.Auth, err = newAuthenticator(c, st, log, a.Events, opt.Now); err != nil {
		return err
	}
	if a.Redis, err = OpenRedis(ctx, c, kr.Master, opt); err != nil {
		return err
	}
	if a.Redis != nil {
		if err := a.Metrics.Register(a.Redis.Collectors()...); err != nil {
			return err
		}
		a.Auth.Share(SharedLogin(c, a.Redis, opt.Now))
		n := a.Redis.Notifier()
		a.notifiers = append(a.notifiers, n)
		a.runners = append(a.runners, a.Redis.Run, n.Run)
	}
	ips, err := clientip.New(c.TrustedProxies, c.ClientIPHeader)
	if err != nil {
		return err
	}
	scfg := SessionConfig(c)
	scfg.Logger, scfg.Now, scfg.Events = log, opt.Now, a.Events
	// Listening starts before the follower loads its cursor, so no
	// revocation falls between the two.
	if fl, ok := st.(feedListening); ok {
		if a.Listener, err = fl.ListenFeed(ctx, c.StoreDirect, log); err != nil {
			return err
		}
		a.notifiers = append(a.notifiers, a.Listener)
	}
	switch len(a.notifiers) {
	case 0:
	case 1:
		scfg.Notifier = a.notifiers[0]
	default:
		// Either one failing leaves the other, and the feed poll behind
		// both. The relays live until Close.
		var jctx context.Context
		jctx, a.stopJoin = context.WithCancel(context.WithoutCancel(ctx))
		scfg.Notifier = revocation.Join(jctx, a.notifiers...)
	}
	a.Sessions = session.New(st, scfg)
	// A key revoked on another node (or by the CLI) leaves this node's
	// keyset as soon as the feed says so, not at its next reload.
	a.Sessions.Follower().OnKeyRevoked(a.Keys.Revoked)
	// Load the revocation feed's denials before the first request: serving
	// without them would accept tokens revoked before this start.
	if err := a.Sessions.Start(ctx); err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	a.watch()
	if err := a.wireDetection(); err != nil {
		return err
	}
	fa, fh := forwardAuth(c.ForwardAuth)
	a.Server = server.New(server.Config{
		PublicOrigin: c.PublicOrigin, AllowedOrigins: c.AllowedOrigins,
		ForwardAuth: fa, ForwardAuthHeaders: fh,
		InsecureDevCookies: c.InsecureDevCookies, SameSiteStrict: c.Policy.Cookie.SameSite == "strict",
		LogRequests: c.LogRequests, AdminToken: tok, Events: a.Events,
		Probes:       NewProbes(c, a.Events, opt.Now),
		MetricsApart: c.MetricsListen != "admin" && c.MetricsListen != "",
	}, st, a.Sessions, a.Auth, ips, a.Metrics, log, opt.Now).WithKeys(a.Keys)
	if a.OAuth, a.Verifier, err = newOAuth(c, st, kr, a.Sessions, a.Events, log, opt.Now); err != nil {
		return err
	}
	a.Server.WithOAuth(a.OAuth, a.Verifier, server.OAuthConfig{
		Issuer: c.Issuer(), Audience: c.Audience(), AccessTTL: c.Policy.Tokens.AccessTTL.D(),
		SessionIdle: c.Policy.Tokens.RefreshTTL.D(), SessionAbsolute: c.Policy.Tokens.SessionAbsolute.D(),
		// A long poll re-reads the store as often as the follower does;
		// revocations wake it sooner (this node's, or NOTIFY's).
		FeedPoll: c.Policy.Session.RevocationPoll.D(),
	}, st)
	if a.Passkeys, err = NewPasskeys(c, st, a.Events, opt.Now); err != nil {
		return err
	}
	a.MFA = NewMFA(c, st, kr.Master, a.Events, opt.Now, a.Passkeys)
	a.Server.WithMFA(a.MFA, st, MFAPolicy(c))
	a.Server.WithAudit(st)
	if a.Passkeys != nil {
		a.Server.WithWebAuthn(a.Passkeys, a.MFA)
	}
	return nil
}

// Public is the public API's handler.
func (a *App) Public() http.Handler { return a.Server.Public() }

// Admin is the admin API's handler, behind the admin token.
func (a *App) Admin() http.Handler { return a.Server.Admin() }

// Run runs the background loops until ctx ends: the session manager
// (batched last-seen writes, the revocation-feed follower), the signing
// keys' reload and rotation, and the hourly deletion of expired sessions.
// It returns once all have stopped, after the session manager's final
// flush of last-seen times, with that flush's error.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); a.Keys.Run(ctx) }()
	go func() { defer wg.Done(); a.runAudit(ctx) }()
	go func() { defer wg.Done(); a.runDetection(ctx) }()
	go func() { defer wg.Done(); a.gcLoop(ctx) }()
	for _, run := range a.runners {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	err := a.Sessions.Run(ctx)
	wg.Wait()
	// Hand the cluster's jobs over now rather than at the leases' expiry.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, l := range []*cluster.Lease{a.gcLease, a.keysLease} {
		if rerr := l.Release(rctx); rerr != nil {
			a.log.Warn("lease not released; another node takes it when it expires", "err", rerr)
		}
	}
	return err
}

// Close stops the revocation listener and closes Redis and the store.
// Call it after Run has returned.
func (a *App) Close() error {
	if a.stopJoin != nil {
		a.stopJoin()
	}
	if a.Listener != nil {
		a.Listener.Close()
	}
	if a.Redis != nil {
		a.Redis.Close()
	}
	return a.Store.Close()
}

// gcLoop deletes sessions and feed entries that can no longer matter,
// hourly, on the node holding the "gc" lease.
func (a *App) gcLoop(ctx context.Context) {
	t := time.NewTicker(gcInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ran, n, err := a.Collect(ctx)
			if err != nil {
				a.log.Warn("expired-session cleanup failed", "err", err)
			} else if ran && n > 0 {
				a.log.Info("expired sessions deleted", "count", n)
			}
		}
	}
}

// Collect deletes expired sessions, tokens and feed entries if this node
// holds the cluster's "gc" lease (taking or renewing it), and reports
// whether it ran and how many sessions it deleted. One node of a cluster
// does the cleanup; the others skip it.
func (a *App) Collect(ctx context.Context) (ran bool, deleted int, err error) {
	held, err := a.gcLease.Acquire(ctx)
	if err != nil || !held {
		return false, 0, err
	}
	if _, err := a.Store.DeleteExpiredMFAChallenges(ctx, a.now().Add(-time.Hour)); err != nil {
		a.log.Warn("expired mfa challenge cleanup failed", "err", err)
	}
	if n, err := a.PruneAudit(ctx); err != nil {
		a.log.Warn("audit retention failed", "err", err)
	} else if n > 0 {
		a.log.Info("audit records pruned", "count", n)
	}
	if _, err := a.Store.DeleteExpiredWebAuthnCeremonies(ctx, a.now().Add(-time.Hour)); err != nil {
		a.log.Warn("expired webauthn ceremony cleanup failed", "err", err)
	}
	keep := max(24*time.Hour, a.Config.Policy.Session.AbsoluteTimeout.D())
	n, err := a.Store.DeleteExpired(ctx, a.now().Add(-keep))
	return true, n, err
}
