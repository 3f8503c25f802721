package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/clientip"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/passkey"
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

	// AdminTokenSource is TESSERA_ADMIN_TOKEN, the admin-token file's path,
	// or "Options.AdminToken"; AdminTokenCreated is set on first start.
	AdminTokenSource  string
	AdminTokenCreated bool

	log *slog.Logger
	now func() time.Time
}

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
	if err := a.wire(ctx, opt); err != nil {
		st.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) wire(ctx context.Context, opt Options) error {
	c, st, log := a.Config, a.Store, a.log
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
	kr, err := openKeyring(ctx, c, st, log, a.Events, opt.Now)
	if err != nil {
		return err
	}
	a.Keyring, a.Keys = kr, kr.Keys
	if a.Auth, err = newAuthenticator(c, st, log, a.Events, opt.Now); err != nil {
		return err
	}
	ips, err := clientip.New(c.TrustedProxies, c.ClientIPHeader)
	if err != nil {
		return err
	}
	scfg := SessionConfig(c)
	scfg.Logger, scfg.Now, scfg.Events = log, opt.Now, a.Events
	a.Sessions = session.New(st, scfg)
	// Load the revocation feed's denials before the first request: serving
	// without them would accept tokens revoked before this start.
	if err := a.Sessions.Start(ctx); err != nil {
		return fmt.Errorf("load revocations: %w", err)
	}
	a.Server = server.New(server.Config{
		PublicOrigin: c.PublicOrigin, AllowedOrigins: c.AllowedOrigins,
		InsecureDevCookies: c.InsecureDevCookies, SameSiteStrict: c.Policy.Cookie.SameSite == "strict",
		LogRequests: c.LogRequests, AdminToken: tok, Events: a.Events,
	}, st, a.Sessions, a.Auth, ips, a.Metrics, log, opt.Now).WithKeys(a.Keys)
	if a.OAuth, a.Verifier, err = newOAuth(c, st, kr, a.Sessions, a.Events, log, opt.Now); err != nil {
		return err
	}
	a.Server.WithOAuth(a.OAuth, a.Verifier, server.OAuthConfig{
		Issuer: c.Issuer(), AccessTTL: c.Policy.Tokens.AccessTTL.D(),
		SessionIdle: c.Policy.Tokens.RefreshTTL.D(), SessionAbsolute: c.Policy.Tokens.SessionAbsolute.D(),
	}, st)
	if a.Passkeys, err = NewPasskeys(c, st, a.Events, opt.Now); err != nil {
		return err
	}
	a.MFA = NewMFA(c, st, kr.Master, a.Events, opt.Now, a.Passkeys)
	a.Server.WithMFA(a.MFA, st, MFAPolicy(c))
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
	wg.Add(2)
	go func() { defer wg.Done(); a.Keys.Run(ctx) }()
	go func() { defer wg.Done(); a.gcLoop(ctx) }()
	err := a.Sessions.Run(ctx)
	wg.Wait()
	return err
}

// Close closes the store. Call it after Run has returned.
func (a *App) Close() error { return a.Store.Close() }

// gcLoop deletes sessions and feed entries that can no longer matter.
func (a *App) gcLoop(ctx context.Context) {
	keep := max(24*time.Hour, a.Config.Policy.Session.AbsoluteTimeout.D())
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := a.Store.DeleteExpiredMFAChallenges(ctx, a.now().Add(-time.Hour)); err != nil {
				a.log.Warn("expired mfa challenge cleanup failed", "err", err)
			}
			if _, err := a.Store.DeleteExpiredWebAuthnCeremonies(ctx, a.now().Add(-time.Hour)); err != nil {
				a.log.Warn("expired webauthn ceremony cleanup failed", "err", err)
			}
			n, err := a.Store.DeleteExpired(ctx, a.now().Add(-keep))
			if err != nil {
				a.log.Warn("expired-session cleanup failed", "err", err)
			} else if n > 0 {
				a.log.Info("expired sessions deleted", "count", n)
			}
		}
	}
}
