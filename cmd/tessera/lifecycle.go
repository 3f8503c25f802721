package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/account"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/store"
)

// newUserLifecycleCmds are the user verbs of package account: disable,
// enable, delete and reset-password. They run on the existing store
// (creating nothing) through the session manager, so the revocations land
// on the feed that running servers follow. Clearing a user's login
// throttles is the admin API's (DELETE /admin/v1/users/{id}/throttles):
// the throttles live in the running servers, not in the store.
func (c *cli) newUserLifecycleCmds() []*cobra.Command {
	// lifecycle is the RunE of a verb on one user named by its argument.
	lifecycle := func(do func(ctx context.Context, acct *account.Service, u store.User, ev event.Sink) error) func(*cobra.Command, []string) error {
		return c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, args []string) error {
			u, err := userByName(ctx, st, args[0])
			if err != nil {
				return err
			}
			ev := c.events(cfg, st)
			an, err := newAuthenticator(cfg, st, nil, ev)
			if err != nil {
				return err
			}
			return do(ctx, account.New(st, newSessions(cfg, st, ev), an, nil), u, ev)
		})
	}
	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable a user: every session ends, login and refresh are refused",
		Long: `Disable a user: every session ends at once, and logins and refreshes
are refused until the user is enabled again. Running servers learn of the
revocations from the revocation feed within one poll.`,
		Args: exactArgs("NAME"),
		RunE: lifecycle(func(ctx context.Context, acct *account.Service, u store.User, ev event.Sink) error {
			res, err := acct.Disable(ctx, u.ID)
			if err != nil {
				return err
			}
			adminAction(ctx, ev, event.Event{Action: event.ActionUserDisable, UserID: u.ID, Count: res.Revoked})
			fmt.Fprintf(c.stdout, "disabled %s; revoked %d session(s)\n", u.Username, res.Revoked)
			return nil
		}),
	}
	enable := &cobra.Command{
		Use:   "enable NAME",
		Short: "Enable a disabled user",
		Args:  exactArgs("NAME"),
		RunE: lifecycle(func(ctx context.Context, acct *account.Service, u store.User, ev event.Sink) error {
			if _, err := acct.Enable(ctx, u.ID); err != nil {
				return err
			}
			adminAction(ctx, ev, event.Event{Action: event.ActionUserEnable, UserID: u.ID})
			fmt.Fprintf(c.stdout, "enabled %s\n", u.Username)
			return nil
		}),
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user: sessions and tokens revoked, personal data erased",
		Long: `Delete a user: every session and token is revoked, the username is
replaced by a tombstone (the name is free again) and the password hash is
removed; the sessions keep no IP address or user agent. The user's id
stays, so logs and events still make sense without naming anyone.`,
		Args: exactArgs("NAME"),
		RunE: lifecycle(func(ctx context.Context, acct *account.Service, u store.User, ev event.Sink) error {
			res, err := acct.Delete(ctx, u.ID)
			if err != nil {
				return err
			}
			adminAction(ctx, ev, event.Event{Action: event.ActionUserDelete, UserID: u.ID, Count: res.Revoked})
			fmt.Fprintf(c.stdout, "deleted user %s; revoked %d session(s)\n", u.ID, res.Revoked)
			return nil
		}),
	}
	reset := &cobra.Command{
		Use:   "reset-password NAME",
		Short: "Set a user's password and end every session",
		Long: `Set a user's password without the old one and end every session.

The password is read from standard input (its first line) with
--password-stdin; otherwise a terminal prompts for it twice. With
--must-change the next login is refused (password_change_required) until
it brings a new password of the user's own ("new_password").`,
		Example: "  echo 'temporary passphrase 1' | tessera user reset-password alice --password-stdin --must-change",
		Args:    exactArgs("NAME"),
	}
	pwStdin := reset.Flags().Bool("password-stdin", false, "read the password from standard input (first line)")
	mustChange := reset.Flags().Bool("must-change", false, "require a new password at the next login")
	var pw string
	run := lifecycle(func(ctx context.Context, acct *account.Service, u store.User, ev event.Sink) error {
		res, err := acct.ResetPassword(ctx, u.ID, pw, *mustChange)
		var pe *password.PolicyError
		if errors.As(err, &pe) {
			return fmt.Errorf("password refused: %s", pe.Message)
		}
		if err != nil {
			return err
		}
		adminAction(ctx, ev, event.Event{Action: event.ActionUserPasswordReset, UserID: u.ID, Count: res.Revoked})
		fmt.Fprintf(c.stdout, "password of %s reset; revoked %d session(s)\n", u.Username, res.Revoked)
		return nil
	})
	reset.RunE = func(cmd *cobra.Command, args []string) error {
		var err error
		if pw, err = readPassword(c.stdin, c.stderr, *pwStdin); err != nil {
			return err
		}
		return run(cmd, args)
	}
	return []*cobra.Command{disable, enable, del, reset}
}
