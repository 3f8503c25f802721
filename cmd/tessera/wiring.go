package main

import (
	"context"

	"errors"
	"flag"
	"fmt"
	"github.com/go-jose/go-jose/v4"
	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/server"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"github.com/tessera-auth/tessera/store/sqlite"
	"github.com/tessera-auth/tessera/token"
)

// commonFlags are the flags every command takes.
type commonFlags struct {
	data, store, config string
}

func newFlagSet(name string, stderr io.Writer, cf *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("tessera "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cf.data, "data", "", "data folder of the embedded store (default ./tessera-data)")
	fs.StringVar(&cf.store, "store", "", "store URL instead of the embedded store (sqlite:PATH)")
	fs.StringVar(&cf.config, "config", "", "YAML config file")
	return fs
}

// parseFlags parses args, allowing flags after positional arguments
// ("user add alice --password-stdin"), and returns the positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			// flag has already printed the problem and the usage.
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// loadConfig reads the config file and environment, then applies flags.
func loadConfig(cf commonFlags) (config.Config, error) {
	c, err := config.Load(cf.config, os.Environ())
	if err != nil {
		return config.Config{}, err
	}
	if cf.data != "" {
		c.Data = cf.data
	}
	if cf.store != "" {
		c.Store = cf.store
	}
	return c, c.Validate()
}

// openStore opens the configured store, creating the data folder (0700)
// for the embedded one.
func openStore(ctx context.Context, c config.Config) (store.Store, string, error) {
	path := filepath.Join(c.Data, "tessera.db")
	if c.Store != "" {
		u, err := url.Parse(c.Store)
		if err != nil {
			return nil, "", fmt.Errorf("store URL: %w", err)
		}
		switch u.Scheme {
		case "sqlite":
			path = strings.TrimPrefix(c.Store, "sqlite:")
		default:
			return nil, "", fmt.Errorf("store %q: only the embedded SQLite store is supported in this version", u.Scheme)
		}
	} else if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, "", fmt.Errorf("data folder: %w", err)
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return nil, "", err
	}
	return st, path, nil
}

// openForCommand loads the configuration and opens its store, for the
// administrative commands.
func openForCommand(ctx context.Context, cf commonFlags) (config.Config, store.Store, error) {
	c, err := loadConfig(cf)
	if err != nil {
		return config.Config{}, nil, err
	}
	st, _, err := openStore(ctx, c)
	if err != nil {
		return config.Config{}, nil, err
	}
	return c, st, nil
}

func newAuthenticator(c config.Config, st authn.Store, log *slog.Logger, ev event.Sink) (*authn.Authenticator, error) {
	p := c.Policy.Password
	params := password.DefaultParams()
	params.Memory, params.Iterations, params.Parallelism = p.Argon2Memory, p.Argon2Iterations, p.Argon2Parallelism
	h, err := password.NewHasher(params, p.MaxConcurrentHashes)
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
	}, nil, log, ev), nil
}

// newEvents is the sink every domain service publishes to: the logging
// subscriber always, the metrics when the server runs (m nil for the CLI).
func newEvents(log *slog.Logger, m *server.Metrics) *event.Fanout {
	f := event.NewFanout(log)
	l := event.NewLogger(log)
	f.Subscribe(l, l.Kinds()...)
	if m != nil {
		f.Subscribe(m, m.Kinds()...)
	}
	return f
}

func sessionConfig(c config.Config) session.Config {
	s := c.Policy.Session
	return session.Config{
		IdleTimeout: s.IdleTimeout.D(), AbsoluteTimeout: s.AbsoluteTimeout.D(), MaxPerUser: s.MaxPerUser,
		TouchInterval: s.TouchInterval.D(), RevocationPoll: s.RevocationPoll.D(), CacheSize: s.CacheSize,
	}
}

// adminToken returns the admin credential from TESSERA_ADMIN_TOKEN or the
// data folder, generating it there (mode 0600) on first start.
func adminToken(c config.Config) (tok, source string, created bool, err error) {
	if v := os.Getenv("TESSERA_ADMIN_TOKEN"); v != "" {
		if len(v) < 32 {
			return "", "", false, errors.New("TESSERA_ADMIN_TOKEN must be at least 32 characters")
		}
		return v, "TESSERA_ADMIN_TOKEN", false, nil
	}
	path := filepath.Join(c.Data, "admin-token")
	b, err := os.ReadFile(path)
	if err == nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", "", false, fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		v := strings.TrimSpace(string(b))
		if len(v) < 32 {
			return "", "", false, fmt.Errorf("%s must hold a token of at least 32 characters", path)
		}
		return v, path, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", "", false, err
	}
	t, err := token.New(token.Admin)
	if err != nil {
		return "", "", false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", false, fmt.Errorf("writing admin token: %w", err)
	}
	if _, err := f.WriteString(t.Reveal() + "\n"); err != nil {
		f.Close()
		return "", "", false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", "", false, err
	}
	return t.Reveal(), path, true, f.Close()
}

func newLogger(c config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.LogLevel))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// newOAuth builds the token service and the verifier of the server's own
// access tokens.
func newOAuth(c config.Config, st store.Store, kr keyring, sm *session.Manager, ev event.Sink, log *slog.Logger) (*oauth.Service, *accesstoken.Verifier, error) {
	pepper, err := kr.master.Derive("client-secret-pepper/v1")
	if err != nil {
		return nil, nil, err
	}
	t := c.Policy.Tokens
	oc := oauth.Config{
		Issuer: c.Issuer(), Audience: c.Audience(),
		Access: t.AccessTTL.D(), Refresh: t.RefreshTTL.D(), Grace: t.RefreshGrace.D(),
		Pepper: pepper, Logger: log, Events: ev,
	}
	if sm != nil {
		oc.Sessions = sm // a reused refresh token's session leaves the cache at once
	}
	svc := oauth.New(st, kr.keys, oc)
	v := &accesstoken.Verifier{
		Issuer: c.Issuer(), Audience: c.Audience(),
		Algorithms: []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256},
		Keys: func(kid string) (*jose.JSONWebKey, error) {
			k, err := kr.keys.PublicKey(kid)
			if err != nil {
				return nil, accesstoken.ErrUnknownKey
			}
			return k, nil
		},
	}
	return svc, v, nil
}
