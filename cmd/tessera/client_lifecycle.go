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

// newClientLifecycleCmds are `client delete ID`, `client rotate-secret
// ID` and `client update ID`, on the existing store (creating nothing).
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
	update := &cobra.Command{
		Use:   "update ID [--first-party=BOOL] [--revocation-feed=BOOL] [--introspect=BOOL]",
		Short: "Grant or withdraw a client's first-party mark and permissions",
		Long: `Grant or withdraw a client's first-party mark (only first-party clients
may log users in with a password, RFC 9700 §2.4) and its permissions to
read the revocation feed and to introspect. Flags left out stay as they are.`,
		Example: `  tessera client update 0190… --first-party
  tessera client update 0190… --revocation-feed=false`,
		Args: exactArgs("ID"),
	}
	uf := update.Flags()
	firstParty := uf.Bool("first-party", false, "mark the client as your own application (or =false: third party)")
	feed := uf.Bool("revocation-feed", false, "allow (or =false: forbid) reading the revocation feed")
	introspect := uf.Bool("introspect", false, "allow (or =false: forbid) token introspection")
	// Naming no change is a mistake in the command line (exit 2), found
	// before anything is opened.
	update.PreRunE = func(*cobra.Command, []string) error {
		if !uf.Changed("first-party") && !uf.Changed("revocation-feed") && !uf.Changed("introspect") {
			return usagef("nothing to change: give --first-party, --revocation-feed or --introspect")
		}
		return nil
	}
	update.RunE = withService(func(ctx context.Context, svc *oauth.Service, id string, ev event.Sink) error {
		var p oauth.ClientPatch
		if uf.Changed("first-party") {
			p.FirstParty = firstParty
		}
		if uf.Changed("revocation-feed") {
			p.RevocationFeed = feed
		}
		if uf.Changed("introspect") {
			p.Introspect = introspect
		}
		cl, err := svc.UpdateClient(ctx, id, p)
		if err != nil {
			return err
		}
		adminAction(ctx, ev, event.Event{Action: event.ActionClientUpdate, ClientID: id})
		fmt.Fprintf(c.stdout, "client %s: first_party=%t revocation_feed=%t introspect=%t\n", cl.ID, cl.FirstParty, cl.RevocationFeed, cl.Introspect)
		return nil
	})
	return []*cobra.Command{del, rotate, update}
}
