package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/keys"
	"github.com/tessera-auth/tessera/store"
)

// keyring is the signing keyset and the master key it was opened with.
type keyring struct {
	keys *keys.Keyset
	ring app.Keyring
}

func openKeyset(ctx context.Context, c config.Config, st keys.Store, log *slog.Logger, ev event.Sink) (keyring, error) {
	r, err := app.OpenKeyring(ctx, c, st, log, ev)
	if err != nil {
		return keyring{}, err
	}
	return keyring{keys: r.Keys, ring: r}, nil
}

func (c *cli) newKeysCmd() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "keys", Short: "List, rotate and revoke the signing keys (JWKS)"})
	list := c.newListCmd("list", "List the signing keys", func(ctx context.Context, cfg config.Config, st store.Store, out outputFlag) error {
		return c.keys(ctx, cfg, st, keyAction{}, out)
	})
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Retire the active key and activate the next one",
		Long: `Retire the active key, activate the next one (already published, so
verifiers have it) and create a new next key. Running servers follow within 30s.

It refuses while the next key is younger than the JWKS cache lifetime plus a
margin (right after another rotation): verifiers holding a cached JWKS would
refuse every token the new key signs until they refetch. --force rotates anyway.`,
		Args: noArgs,
	}
	force := rotate.Flags().Bool("force", false, "rotate even if verifiers may not have the next key yet (they refuse its tokens until they refetch the JWKS)")
	rotate.RunE = c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, _ []string) error {
		return c.keys(ctx, cfg, st, keyAction{rotate: true, force: *force}, "text")
	})
	revoke := &cobra.Command{
		Use:   "revoke KID",
		Short: "Revoke a compromised signing key now",
		Long: `Emergency revocation of a signing key whose private half may have leaked:
the key leaves the JWKS at once and every token it signed is refused. Running
servers and SDK verifiers learn it from the revocation feed within a poll.
Revoking the active key first activates the next one (without the rotation's
safety wait); revoking the next key creates a fresh one.`,
		Args: exactArgs("KID"),
		RunE: c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, args []string) error {
			return c.keys(ctx, cfg, st, keyAction{revoke: args[0]}, "text")
		}),
	}
	cmd.AddCommand(list, rotate, revoke)
	return cmd
}

// keyAction is what a keys verb changes before it lists the keys.
type keyAction struct {
	rotate, force bool
	revoke        string // a kid
}

// keys rotates the keyset if asked, through the keys package as the admin
// API does, then lists it. Listing alone reads the store and nothing else:
// it needs no master key, and creates neither one nor the first keys.
func (c *cli) keys(ctx context.Context, cfg config.Config, st store.Store, act keyAction, out outputFlag) error {
	if act.rotate || act.revoke != "" {
		ev := c.events(cfg)
		kr, err := openKeyset(ctx, cfg, st, nil, ev)
		if err != nil {
			return err
		}
		if act.revoke != "" {
			kid, err := kr.keys.Revoke(ctx, act.revoke)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no signing key %q (tessera keys list)", act.revoke)
			}
			if err != nil {
				return err
			}
			adminAction(ctx, ev, event.Event{Action: event.ActionKeyRevoke, KID: act.revoke})
			fmt.Fprintf(c.stdout, "key %s revoked; active key is %s (running servers and SDK verifiers follow the revocation feed)\n", act.revoke, kid)
		} else {
			if act.force {
				fmt.Fprintln(c.stderr, "forcing: verifiers that cached the JWKS before the next key was published refuse the new key's tokens until they refetch")
			}
			kid, err := kr.keys.RotateChecked(ctx, act.force)
			if errors.Is(err, keys.ErrRotationUnsafe) {
				return fmt.Errorf("%w (tessera keys rotate --force)", err)
			}
			if err != nil {
				return err
			}
			adminAction(ctx, ev, event.Event{Action: event.ActionKeyRotate, KID: kid})
			fmt.Fprintf(c.stdout, "active key is now %s (running servers follow within 30s)\n", kid)
		}
	}
	stored, err := st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	infos := keys.Describe(stored, cfg.Policy.Keys.RetiredTTL.D(), time.Now())
	if out == "json" {
		type keyJSON struct {
			KID         string     `json:"kid"`
			Alg         string     `json:"alg"`
			State       string     `json:"state"`
			CreatedAt   *time.Time `json:"created_at,omitempty"`
			ActivatedAt *time.Time `json:"activated_at,omitempty"`
			RetiredAt   *time.Time `json:"retired_at,omitempty"`
			RevokedAt   *time.Time `json:"revoked_at,omitempty"`
			Published   bool       `json:"published"`
		}
		js := []keyJSON{}
		for _, k := range infos {
			js = append(js, keyJSON{k.KID, k.Alg, k.State, jsonTime(k.CreatedAt), jsonTime(k.ActivatedAt), jsonTime(k.RetiredAt), jsonTime(k.RevokedAt), k.Published})
		}
		return writeJSON(c.stdout, js)
	}
	tw := newTable(c.stdout, "KID\tALG\tSTATE\tCREATED\tPUBLISHED")
	for _, k := range infos {
		state := k.State
		if !k.RevokedAt.IsZero() {
			state = "revoked"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", k.KID, k.Alg, state, k.CreatedAt.Format(time.RFC3339), k.Published)
	}
	if len(infos) == 0 {
		fmt.Fprintln(c.stderr, "no signing keys yet: tessera serve creates them on first start")
	}
	return tw.Flush()
}
