package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/mfa"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
)

// newUserMFACmd is `tessera user mfa reset NAME`: the CLI twin of DELETE
// /admin/v1/users/{id}/mfa.
func (c *cli) newUserMFACmd() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "mfa", Short: "Manage a user's second factors"})
	reset := &cobra.Command{
		Use:   "reset NAME",
		Short: "Remove every second factor of a user and revoke all their sessions",
		Long: `Remove every second factor of a user (TOTP, recovery codes, pending
logins) and revoke all their sessions. The user logs in next with the
password alone and may enroll again.

Running servers learn of the revocations from the feed within one poll.`,
		Args: exactArgs("NAME"),
	}
	reset.RunE = c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, args []string) error {
		u, err := userByName(ctx, st, args[0])
		if err != nil {
			return err
		}
		ev := c.events(cfg)
		// Reset opens no sealed secret: no master key needed.
		if err := mfa.New(st, nil, mfa.Config{Events: ev}).Reset(ctx, u.ID); err != nil {
			return err
		}
		ids, err := newSessions(cfg, st, ev).RevokeUser(ctx, u.ID, "", session.ReasonMFAReset)
		if err != nil {
			return fmt.Errorf("second factors removed, but revoking the sessions failed (run tessera session revoke --user %s): %w", u.Username, err)
		}
		adminAction(ctx, ev, event.Event{Action: event.ActionMFAReset, UserID: u.ID, Count: len(ids)})
		fmt.Fprintf(c.stdout, "reset the second factors of %s; revoked %d session(s)\n", u.Username, len(ids))
		return nil
	})
	cmd.AddCommand(reset)
	return cmd
}
