package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/oauth"
	"github.com/tessera-auth/tessera/store"
)

// newClientLifecycleCmds are `client delete ID` and `client rotate-secret
// ID`, on the existing store (creating nothing).
func (c *cli) newClientLifecycleCmds() []*cobra.Command {
	withService := func(do func(ctx context.Context, svc *oauth.Service, id string, ev event.Sink) error) func(*cobra.Command, []string) error {
		return c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, args []string) error {
			ev := c.events(cfg, st)
			kr, err := openKeyset(ctx, cfg, st, nil, ev)
			if err != nil {
				return err
			}
			svc, _, err := newOAuth(cfg, st, kr, nil, ev, nil)
			if err != nil {
				return err
			}
			err = do(ctx, svc, args[0], ev)
			var oe *oauth.Error
			switch {
			case errors.Is(err, oauth.ErrClientNotFound):
				return fmt.Errorf("no client %q", args[0])
			case errors.As(err, &oe):
				return errors.New(oe.Description)
			}
			return err
		})
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an OAuth client and revoke its tokens",
		Long: `Delete an OAuth client and revoke its tokens: the sessions of its
refresh tokens end and its opaque access tokens are denied, through the
revocation feed running servers follow. Its client_credentials JWTs live
until they expire (at most the access-token lifetime).`,
		Args: exactArgs("ID"),
		RunE: withService(func(ctx context.Context, svc *oauth.Service, id string, ev event.Sink) error {
			d, err := svc.DeleteClient(ctx, id)
			if err != nil {
				return err
			}
			adminAction(ctx, ev, event.Event{Action: event.ActionClientDelete, ClientID: id, Count: len(d.Sessions) + len(d.JTIs)})
			fmt.Fprintf(c.stdout, "deleted client %s; revoked %d session(s) and %d access token(s)\n", id, len(d.Sessions), len(d.JTIs))
			return nil
		}),
	}
	rotate := &cobra.Command{
		Use:     "rotate-secret ID [--overlap DURATION]",
		Short:   "Give a confidential client a new secret; the old one lasts --overlap",
		Example: `  tessera client rotate-secret 0190… --overlap 24h`,
		Args:    exactArgs("ID"),
	}
	overlap := rotate.Flags().Duration("overlap", 0, "how long the old secret stays valid (at most 720h)")
	rotate.RunE = withService(func(ctx context.Context, svc *oauth.Service, id string, ev event.Sink) error {
		cl, sec, err := svc.RotateSecret(ctx, id, *overlap)
		if err != nil {
			return err
		}
		adminAction(ctx, ev, event.Event{Action: event.ActionClientSecretRotate, ClientID: id})
		fmt.Fprintf(c.stdout, "client_secret: %s\n", sec)
		if !cl.OldSecretUntil.IsZero() {
			fmt.Fprintf(c.stderr, "The old secret is accepted until %s.\n", cl.OldSecretUntil.Format(time.RFC3339))
		}
		fmt.Fprintln(c.stderr, "Store the secret now: only a keyed hash of it is kept.")
		return nil
	})
	return []*cobra.Command{del, rotate}
}
