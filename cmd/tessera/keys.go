package main

import (
	"context"
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
	cmd := c.group(&cobra.Command{Use: "keys", Short: "List and rotate the signing keys (JWKS)"})
	list := c.newListCmd("list", "List the signing keys", func(ctx context.Context, cfg config.Config, st store.Store, out outputFlag) error {
		return c.keys(ctx, cfg, st, false, out)
	})
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Retire the active key and activate the next one",
		Long: `Retire the active key, activate the next one (already published, so
verifiers have it) and create a new next key. Running servers follow within 30s.`,
		Args: noArgs,
		RunE: c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, _ []string) error {
			return c.keys(ctx, cfg, st, true, "text")
		}),
	}
	cmd.AddCommand(list, rotate)
	return cmd
}

// keys rotates the keyset if asked, through the keys package as the admin
// API does, then lists it. Listing alone reads the store and nothing else:
// it needs no master key, and creates neither one nor the first keys.
func (c *cli) keys(ctx context.Context, cfg config.Config, st store.Store, rotate bool, out outputFlag) error {
	if rotate {
		ev := c.events(cfg)
		kr, err := openKeyset(ctx, cfg, st, nil, ev)
		if err != nil {
			return err
		}
		kid, err := kr.keys.Rotate(ctx)
		if err != nil {
			return err
		}
		adminAction(ctx, ev, event.Event{Action: event.ActionKeyRotate, KID: kid})
		fmt.Fprintf(c.stdout, "active key is now %s (running servers follow within 30s)\n", kid)
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
			Published   bool       `json:"published"`
		}
		js := []keyJSON{}
		for _, k := range infos {
			js = append(js, keyJSON{k.KID, k.Alg, k.State, jsonTime(k.CreatedAt), jsonTime(k.ActivatedAt), jsonTime(k.RetiredAt), k.Published})
		}
		return writeJSON(c.stdout, js)
	}
	tw := newTable(c.stdout, "KID\tALG\tSTATE\tCREATED\tPUBLISHED")
	for _, k := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", k.KID, k.Alg, k.State, k.CreatedAt.Format(time.RFC3339), k.Published)
	}
	if len(infos) == 0 {
		fmt.Fprintln(c.stderr, "no signing keys yet: tessera serve creates them on first start")
	}
	return tw.Flush()
}
