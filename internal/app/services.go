package app

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/probe"
	"github.com/tessera-auth/tessera/server"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

// NewLogger returns the JSON logger at c's level, writing to w.
func NewLogger(c config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.LogLevel))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// NewAuthenticator builds password login with c's hashing cost, password
// policy and login throttles; login outcomes are published to ev (may be nil).
func NewAuthenticator(c config.Config, st authn.Store, log *slog.Logger, ev event.Sink) (*authn.Authenticator, error) {
	return newAuthenticator(c, st, log, ev, nil)
}

func newAuthenticator(c config.Config, st authn.Store, log *slog.Logger, ev event.Sink, now func() time.Time) (*authn.Authenticator, error) {
	p := c.Policy.Password
	params := password.DefaultParams()
	params.Memory, params.Iterations, params.Parallelism = p.Argon2Memory, p.Argon2Iterations, p.Argon2Parallelism
	h, err := password.NewHasher(params, p.MaxConcurrentHashes, p.MaxQueuedHashes)
	if err != nil {
		return nil, fmt.Errorf("policy.password: %w", err)
	}
	pol := password.DefaultPolicy()
	pol.MinLength, pol.MaxLength = p.MinLength, p.MaxLength
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("policy.password: %w", err)
	}
	l := c.Policy.Login
	return authn.New(st, h, pol, authn.Limits{
		PerIPBurst: l.PerIPBurst, PerIPRefill: l.PerIPRefill.D(),
		PerAccountIPBurst: l.PerAccountIPBurst, PerAccountIPRefill: l.PerAccountIPRefill.D(),
		PerAccountBurst: l.PerAccountBurst, PerAccountRefill: l.PerAccountRefill.D(),
	}, now, log, ev), nil
}

// NewProbes builds the token-probing budgets of c's policy.probe; ev
// receives event.TokenProbeThrottled (may be nil); now nil means time.Now.
func NewProbes(c config.Config, ev event.Sink, now func() time.Time) *probe.Limiter {
	p := c.Policy.Probe
	return probe.New(probe.Limits{
		BearerPerIPBurst: p.BearerPerIPBurst, BearerPerIPRefill: p.BearerPerIPRefill.D(),
		IntrospectPerClientBurst: p.IntrospectPerClientBurst, IntrospectPerClientRefill: p.IntrospectPerClientRefill.D(),
		IntrospectPerIPBurst: p.IntrospectPerIPBurst, IntrospectPerIPRefill: p.IntrospectPerIPRefill.D(),
	}, ev, now)
}

// SessionConfig is c's session policy as the session manager takes it
// (without the Logger, Now and Events a server adds).
func SessionConfig(c config.Config) session.Config {
	s := c.Policy.Session
	return session.Config{
		IdleTimeout: s.IdleTimeout.D(), AbsoluteTimeout: s.AbsoluteTimeout.D(), MaxPerUser: s.MaxPerUser,
		TouchInterval: s.TouchInterval.D(), RevocationPoll: s.RevocationPoll.D(), CacheSize: s.CacheSize,
	}
}

// NewEvents is the sink every domain service publishes to: the logging
// subscriber, and m's counters when m is not nil. Audit, detection and
// back-channel logout subscribe here too.
func NewEvents(log *slog.Logger, m *server.Metrics) *event.Fanout {
	f := event.NewFanout(log)
	l := event.NewLogger(log)
	f.Subscribe(l, l.Kinds()...)
	if m != nil {
		f.Subscribe(m, m.Kinds()...)
	}
	return f
}

// NewOAuth builds the token service and the verifier of the server's own
// access tokens. sm may be nil (a CLI verb that registers a client rotates
// no refresh token); ev receives the token events (may be nil).
func NewOAuth(c config.Config, st store.Store, kr Keyring, sm *session.Manager, ev event.Sink, log *slog.Logger) (*oauth.Service, *accesstoken.Verifier, error) {
	return newOAuth(c, st, kr, sm, ev, log, nil)
}

func newOAuth(c config.Config, st store.Store, kr Keyring, sm *session.Manager, ev event.Sink, log *slog.Logger, now func() time.Time) (*oauth.Service, *accesstoken.Verifier, error) {
	pepper, err := kr.Master.Derive("client-secret-pepper/v1")
	if err != nil {
		return nil, nil, err
	}
	t := c.Policy.Tokens
	oc := oauth.Config{
		Issuer: c.Issuer(), Audience: c.Audience(),
		Access: t.AccessTTL.D(), Refresh: t.RefreshTTL.D(), Grace: t.RefreshGrace.D(), TouchInterval: c.Policy.Session.TouchInterval.D(),
		Pepper: pepper, Logger: log, Now: now, Events: ev, FirstPartyID: t.FirstPartyClientID,
	}
	if sm != nil {
		oc.Sessions = sm // a reused refresh token's session leaves this node's cache at once
	}
	svc := oauth.New(st, kr.Keys, oc)
	v := &accesstoken.Verifier{
		// Any audience verifies: tokens restricted to RFC 8707 resources
		// are Tessera's too, and tokenstate decides who they are meant for
		// (server.OAuthConfig.Audience).
		Issuer: c.Issuer(), Audience: "",
		MaxLifetime: t.AccessTTL.D(), // exp − iat of a token Tessera minted never exceeds it
		Algorithms:  []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256},
		Keys: func(kid string) (*jose.JSONWebKey, error) {
			k, err := kr.Keys.PublicKey(kid)
			if err != nil {
				return nil, accesstoken.ErrUnknownKey
			}
			return k, nil
		},
	}
	return svc, v, nil
}
