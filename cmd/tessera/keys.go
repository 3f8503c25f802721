package main

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/keys"
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
	list := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys",
		Args:  noArgs,
	}
	out := addOutputFlag(list)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		return c.keys(cmd.Context(), false, *out)
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Retire the active key and activate the next one",
		Long: `Retire the active key, activate the next one (already published, so
verifiers have it) and create a new next key. Running servers follow within 30s.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.keys(cmd.Context(), true, "text")
		},
	}
	cmd.AddCommand(list, rotate)
	return cmd
}

// keys rotates the keyset if asked, through the keys package as the admin
// API does, then lists it.
func (c *cli) keys(ctx context.Context, rotate bool, out outputFlag) error {
	cfg, st, err := openForCommand(ctx, c.flags)
	if err != nil {
		return err
	}
	defer st.Close()
	ev := newEvents(newLogger(cfg, c.stderr), nil)
	kr, err := openKeyset(ctx, cfg, st, nil, ev)
	if err != nil {
		return err
	}
	ks := kr.keys
	if rotate {
		kid, err := ks.Rotate(ctx)
		if err != nil {
			return err
		}
		ev.Publish(ctx, event.Event{Kind: event.AdminAction, At: time.Now().UTC(), Actor: event.ActorCLI, Action: event.ActionKeyRotate, KID: kid})
		fmt.Fprintf(c.stdout, "active key is now %s (running servers follow within 30s)\n", kid)
	}
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
		for _, k := range ks.List() {
			js = append(js, keyJSON{k.KID, k.Alg, k.State, jsonTime(k.CreatedAt), jsonTime(k.ActivatedAt), jsonTime(k.RetiredAt), k.Published})
		}
		return writeJSON(c.stdout, js)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tPUBLISHED")
	for _, k := range ks.List() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", k.KID, k.Alg, k.State, k.CreatedAt.Format(time.RFC3339), k.Published)
	}
	return tw.Flush()
}
