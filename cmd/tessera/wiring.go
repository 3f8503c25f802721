package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/tessera-auth/tessera/accesstoken"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/server"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

// commonFlags are the flags every command takes.
type commonFlags struct {
	data, store, config string
	redis               string
}

// loadConfig reads the config file and environment, then applies flags.
func loadConfig(cf commonFlags) (config.Config, error) {
	c, _, err := loadConfigSources(cf)
	return c, err
}

// configFile is the config file: --config, else TESSERA_CONFIG; from says
// which ("" when there is none).
func configFile(cf commonFlags) (path, from string) {
	if cf.config != "" {
		return cf.config, "--config"
	}
	if v := os.Getenv(config.ConfigEnv); v != "" {
		return v, config.ConfigEnv
	}
	return "", ""
}

// loadConfigSources is loadConfig, and says where each setting came from.
func loadConfigSources(cf commonFlags) (config.Config, config.Sources, error) {
	path, _ := configFile(cf)
	c, src, err := config.LoadSources(path, os.Environ())
	if err != nil {
		return config.Config{}, nil, err
	}
	if cf.data != "" {
		c.Data, src["data"] = cf.data, config.SourceFlag
	}
	if cf.store != "" {
		c.Store, src["store"] = cf.store, config.SourceFlag
	}
	if cf.redis != "" {
		c.Redis.URL = cf.redis
	}
	return c, src, c.Validate()
}

// openStore opens the configured store, doing what access allows (see
// app.Access): the data folder and the database are created only for
// commands that add records, migrations applied only by serve and migrate.
func openStore(ctx context.Context, c config.Config, access app.Access) (store.Store, app.StoreInfo, error) {
	return app.OpenStore(ctx, c, access)
}

// openForCommand loads the configuration and opens its existing store, for
// the administrative commands: it creates nothing, so a wrong --data is an
// error rather than a fresh, empty store.
func openForCommand(ctx context.Context, cf commonFlags) (config.Config, store.Store, error) {
	return openWith(ctx, cf, app.Existing)
}

// openCreating is openForCommand for the commands that add records: a
// missing store is created, so `tessera user add` can be the first command.
func openCreating(ctx context.Context, cf commonFlags) (config.Config, store.Store, error) {
	return openWith(ctx, cf, app.Create)
}

func openWith(ctx context.Context, cf commonFlags, access app.Access) (config.Config, store.Store, error) {
	c, err := loadConfig(cf)
	if err != nil {
		return config.Config{}, nil, err
	}
	st, _, err := openStore(ctx, c, access)
	if errors.Is(err, store.ErrNoDatabase) {
		where := c.Data
		if c.Store != "" {
			where = app.Location(c) // a store URL's password stays out of messages
		}
		return config.Config{}, nil, fmt.Errorf("no Tessera data in %s (no database there); run tessera serve or tessera migrate first", where)
	}
	if err != nil {
		return config.Config{}, nil, err
	}
	return c, st, nil
}

func newAuthenticator(c config.Config, st authn.Store, log *slog.Logger, ev event.Sink) (*authn.Authenticator, error) {
	return app.NewAuthenticator(c, st, log, ev)
}

// newEvents is the sink every domain service publishes to: the logging
// subscriber always, the metrics when the server runs (m nil for the CLI).
func newEvents(log *slog.Logger, m *server.Metrics) *event.Fanout { return app.NewEvents(log, m) }

func sessionConfig(c config.Config) session.Config { return app.SessionConfig(c) }

func newLogger(c config.Config, w io.Writer) *slog.Logger { return app.NewLogger(c, w) }

// newOAuth builds the token service and the verifier of the server's own
// access tokens.
func newOAuth(c config.Config, st store.Store, kr keyring, sm *session.Manager, ev event.Sink, log *slog.Logger) (*oauth.Service, *accesstoken.Verifier, error) {
	return app.NewOAuth(c, st, kr.ring, sm, ev, log)
}
