package app

import (
	"context"
	"fmt"
	"time"

	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/redisstate"
	"github.com/tessera-auth/tessera/revocation"
)

// OpenRedis opens the Redis c names (nil, nil when it names none). A Redis
// that does not answer is not an error (the client starts in fallback and
// logs it); a URL that cannot be used is. master keys the names of its
// entries, so every node must share it (as it must anyway).
func OpenRedis(ctx context.Context, c config.Config, master keys.MasterKey, opt Options) (*redisstate.Client, error) {
	if c.Redis.URL == "" {
		return nil, nil
	}
	secret, err := master.Derive("redis-key-names/v1")
	if err != nil {
		return nil, err
	}
	rc, err := redisstate.Open(ctx, c.Redis.URL, redisstate.Options{Prefix: c.Redis.Prefix, Secret: secret, Logger: opt.Logger})
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	return rc, nil
}

// RevocationNotifier is what an administrative command that revokes uses
// to tell running servers at once (Redis pub/sub when c names a Redis; nil
// otherwise: they learn it at their next feed poll). Close the client when
// done; a Redis that does not answer only means the poll carries it.
func RevocationNotifier(ctx context.Context, c config.Config, opt Options) (*redisstate.Client, revocation.Notifier, error) {
	if c.Redis.URL == "" {
		return nil, nil, nil
	}
	// Channel names are not hashed: no secret needed.
	rc, err := redisstate.Open(ctx, c.Redis.URL, redisstate.Options{Prefix: c.Redis.Prefix, Logger: opt.Logger})
	if err != nil {
		return nil, nil, fmt.Errorf("redis.url: %w", err)
	}
	return rc, rc.Notifier(), nil
}

// SharedLogin is the login state every node shares through rc: c's three
// throttles and the known addresses.
func SharedLogin(c config.Config, rc *redisstate.Client, now func() time.Time) authn.Shared {
	l := c.Policy.Login
	return authn.Shared{
		PerIP:        rc.Limiter("ip", l.PerIPBurst, l.PerIPRefill.D(), now),
		PerAccountIP: rc.Limiter("account_ip", l.PerAccountIPBurst, l.PerAccountIPRefill.D(), now),
		PerAccount:   rc.Limiter("account", l.PerAccountBurst, l.PerAccountRefill.D(), now),
		Known:        rc.Known(now),
	}
}
