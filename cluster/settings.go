package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/tessera-auth/tessera/store"
)

// Errors callers branch on.
var (
	// ErrMismatch: this node's configuration sets a value the cluster has
	// settled differently. Two issuers in one cluster would make each
	// node refuse the other's tokens, so the node must not start.
	ErrMismatch = errors.New("cluster: configuration disagrees with the cluster's settings")
	// ErrNoIssuer: the store is shared by nodes on several hosts, and
	// neither the configuration nor the store names the issuer. A
	// default derived from this node's listen address would differ from
	// node to node.
	ErrNoIssuer = errors.New("cluster: no issuer")
)

// SettingsStore is where the cluster's settings are kept.
type SettingsStore interface {
	InitSetting(ctx context.Context, name, value string) (string, error)
	Setting(ctx context.Context, name string) (string, error)
}

// Want is what one node's configuration says of the cluster settings:
// only what it sets explicitly ("" for what it leaves to a default).
type Want struct {
	// Issuer is the "iss" the configuration sets: tokens.issuer, else
	// public_origin; "" if it sets neither.
	Issuer string
	// PublicOrigin is the configured public origin, "" if unset.
	PublicOrigin string
	// Shared reports a store that nodes on several hosts may share
	// (PostgreSQL): there, a cluster without an issuer is refused.
	Shared bool
}

// Settings are the cluster's settings this node must use; "" for one the
// cluster leaves to each node's default.
type Settings struct {
	Issuer       string
	PublicOrigin string
}

// changeHint tells an operator how to change a setting deliberately.
const changeHint = "to change it for the whole cluster, stop every node, run `UPDATE cluster_settings SET value = 'NEW' WHERE name = '%s';` on the store, then start the nodes with the new value (docs/operations.md, \"Several nodes\")"

// Settle reconciles one node's configuration with the store at start. A
// setting the configuration sets is recorded if the store has none yet
// (the first node settles it for the cluster), and must otherwise equal
// the recorded one (ErrMismatch, naming both values); a setting it leaves
// unset is adopted from the store. On a shared store the issuer must end
// up set (ErrNoIssuer).
func Settle(ctx context.Context, st SettingsStore, w Want) (Settings, error) {
	var s Settings
	var err error
	if s.Issuer, err = settle(ctx, st, store.SettingIssuer, w.Issuer,
		"set policy.tokens.issuer to %q (or leave it, and public_origin, unset to adopt it)"); err != nil {
		return Settings{}, err
	}
	if s.PublicOrigin, err = settle(ctx, st, store.SettingPublicOrigin, w.PublicOrigin,
		"set public_origin to %q (or leave it unset to adopt it)"); err != nil {
		return Settings{}, err
	}
	if w.Shared && s.Issuer == "" {
		return Settings{}, fmt.Errorf("%w: nodes sharing this store must sign tokens with one issuer, and neither the configuration nor the store names it; set policy.tokens.issuer (or public_origin) to the URL clients reach the cluster at, the same on every node", ErrNoIssuer)
	}
	return s, nil
}

// settle settles one setting; fix is the advice for a mismatch, with a %q
// for the cluster's value.
func settle(ctx context.Context, st SettingsStore, name, want, fix string) (string, error) {
	if want == "" {
		v, err := st.Setting(ctx, name)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("cluster: read %s: %w", name, err)
		}
		return v, nil
	}
	v, err := st.InitSetting(ctx, name, want)
	if err != nil {
		return "", fmt.Errorf("cluster: record %s: %w", name, err)
	}
	if v != want {
		return "", fmt.Errorf("%w: this node's configuration makes the %s %q, but the cluster's is %q; %s; "+changeHint,
			ErrMismatch, name, want, v, fmt.Sprintf(fix, v), name)
	}
	return v, nil
}
