package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"golang.org/x/term"
)

func (c *cli) newMigrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create the store if needed, apply schema migrations and exit",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := loadConfig(c.flags)
			if err != nil {
				return err
			}
			st, info, err := openStore(ctx, cfg, app.Migrate)
			if err != nil {
				return err
			}
			defer st.Close()
			if ap := info.Applied; len(ap) > 0 {
				fmt.Fprintf(c.stdout, "%s: applied migrations %d to %d\n", info.Location, ap[0], ap[len(ap)-1])
			}
			fmt.Fprintf(c.stdout, "%s: schema at version %d\n", info.Location, info.Schema.Current)
			return nil
		},
	}
}

func (c *cli) newUserCmd() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "user", Short: "Add, list, disable, enable and delete users; reset passwords"})
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a user and print its id",
		Long: `Add a user and print its id.

The password is read from standard input (its first line) with
--password-stdin; otherwise a terminal prompts for it twice.`,
		Example: "  echo 'correct horse battery staple' | tessera user add alice --password-stdin",
		Args:    exactArgs("NAME"),
	}
	pwStdin := add.Flags().Bool("password-stdin", false, "read the password from standard input (first line)")
	// The password is read before the store is opened: a command that
	// fails for want of one leaves no fresh data folder behind.
	var pw string
	create := c.onStore(openCreating, func(ctx context.Context, cfg config.Config, st store.Store, args []string) error {
		ev := c.events(cfg, st)
		an, err := newAuthenticator(cfg, st, nil, ev)
		if err != nil {
			return err
		}
		u, err := an.CreateUser(ctx, args[0], pw)
		var pe *password.PolicyError
		switch {
		case errors.As(err, &pe):
			return fmt.Errorf("password refused: %s", pe.Message)
		case errors.Is(err, authn.ErrInvalidUsername):
			return errors.New("usernames are 1 to 64 characters of a-z, 0-9 and . _ @ + -")
		case errors.Is(err, authn.ErrUsernameTaken):
			return fmt.Errorf("user %q already exists", args[0])
		case err != nil:
			return err
		}
		adminAction(ctx, ev, event.Event{Action: event.ActionUserCreate, UserID: u.ID})
		fmt.Fprintln(c.stdout, u.ID)
		return nil
	})
	add.RunE = func(cmd *cobra.Command, args []string) error {
		var err error
		pw, err = readPassword(c.stdin, c.stderr, *pwStdin)
		if err != nil {
			return err
		}
		return create(cmd, args)
	}

	list := c.newListCmd("list", "List users", func(ctx context.Context, _ config.Config, st store.Store, out outputFlag) error {
		us, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		us = slices.DeleteFunc(us, func(u store.User) bool { return !u.DeletedAt.IsZero() })
		if out == "json" {
			type userJSON struct {
				ID                 string     `json:"id"`
				Username           string     `json:"username"`
				CreatedAt          *time.Time `json:"created_at,omitempty"`
				Disabled           bool       `json:"disabled"`
				MustChangePassword bool       `json:"must_change_password"`
			}
			js := make([]userJSON, 0, len(us))
			for _, u := range us {
				js = append(js, userJSON{u.ID, u.Username, jsonTime(u.CreatedAt), !u.DisabledAt.IsZero(), u.MustChangePassword})
			}
			return writeJSON(c.stdout, js)
		}
		tw := newTable(c.stdout, "ID\tUSERNAME\tCREATED\tSTATE")
		for _, u := range us {
			state := "enabled"
			if !u.DisabledAt.IsZero() {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.ID, u.Username, u.CreatedAt.Format(time.RFC3339), state)
		}
		return tw.Flush()
	})
	cmd.AddCommand(add, list, c.newUserMFACmd())
	cmd.AddCommand(c.newUserLifecycleCmds()...)
	return cmd
}

// readPassword reads from stdin (first line) or prompts twice on a terminal.
func readPassword(stdin io.Reader, stderr io.Writer, fromStdin bool) (string, error) {
	if f, ok := stdin.(*os.File); ok && !fromStdin && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(stderr, "Repeat password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords do not match")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input (use --password-stdin, or run in a terminal to be prompted)")
	}
	return pw, nil
}

func (c *cli) newSessionCmd() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "session", Short: "List and revoke sessions"})
	var listUser *string
	list := c.newListCmd("list [--user NAME]", "List live sessions, of every user or of one", func(ctx context.Context, cfg config.Config, st store.Store, out outputFlag) error {
		sm := newSessions(cfg, st, nil)
		var (
			users []store.User
			err   error
		)
		if *listUser != "" {
			u, err := userByName(ctx, st, *listUser)
			if err != nil {
				return err
			}
			users = []store.User{u}
		} else if users, err = st.ListUsers(ctx); err != nil {
			return err
		}
		type sessionJSON struct {
			ID         string     `json:"id"`
			UserID     string     `json:"user_id"`
			Username   string     `json:"username"`
			CreatedAt  *time.Time `json:"created_at,omitempty"`
			LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
			ExpiresAt  *time.Time `json:"expires_at,omitempty"`
			IP         string     `json:"ip"`
			UserAgent  string     `json:"user_agent"`
			AMR        []string   `json:"amr"`
			AAL        int        `json:"aal"`
		}
		js := []sessionJSON{}
		tw := newTable(c.stdout, "SESSION\tUSER\tCREATED\tLAST SEEN\tIP\tAMR")
		for _, u := range users {
			ss, err := sm.List(ctx, u.ID)
			if err != nil {
				return err
			}
			for _, s := range ss {
				js = append(js, sessionJSON{s.ID, u.ID, u.Username, jsonTime(s.CreatedAt), jsonTime(s.LastSeenAt),
					jsonTime(s.ExpiresAt), s.IP, s.UserAgent, orEmpty(s.AMR), s.AAL})
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, u.Username, s.CreatedAt.Format(time.RFC3339),
					s.LastSeenAt.Format(time.RFC3339), s.IP, strings.Join(s.AMR, ","))
			}
		}
		if out == "json" {
			return writeJSON(c.stdout, js)
		}
		tw.Flush()
		fmt.Fprintf(c.stderr, "%d live session(s)\n", len(js))
		return nil
	})
	listUser = list.Flags().String("user", "", "only this user's sessions")

	revoke := &cobra.Command{
		Use:   "revoke ID | --user NAME",
		Short: "Revoke one session, or every session of a user",
		Long: `Revoke one session, or with --user every session of a user.

Running servers learn of it from the revocation feed within one poll, or
at once with --redis (the servers' Redis).`,
		Args: func(cmd *cobra.Command, args []string) error {
			byUser := cmd.Flags().Changed("user")
			switch {
			case len(args) > 1:
				return usagef("unexpected argument %q", args[1])
			case byUser && len(args) == 1:
				return usagef("give a session ID or --user NAME, not both")
			case !byUser && len(args) == 0:
				return usagef("missing argument: a session ID or --user NAME")
			}
			return nil
		},
	}
	revokeUser := revoke.Flags().String("user", "", "revoke every session of this user")
	revoke.RunE = c.onStore(openForCommand, func(ctx context.Context, cfg config.Config, st store.Store, args []string) error {
		// Through the session manager, as the admin API does, so the
		// revocation reaches the feed that running servers follow.
		ev := c.events(cfg, st)
		scfg := sessionConfig(cfg)
		scfg.Events = ev
		// With --redis, running servers hear of it at once; without, at
		// their next feed poll.
		rc, n, err := app.RevocationNotifier(ctx, cfg, app.Options{Logger: newLogger(cfg, c.stderr)})
		if err != nil {
			return err
		}
		if rc != nil {
			defer rc.Close()
			scfg.Notifier = n
		}
		sm := session.New(st, scfg)
		if len(args) == 0 {
			u, err := userByName(ctx, st, *revokeUser)
			if err != nil {
				return err
			}
			ids, err := sm.RevokeUser(ctx, u.ID, "", session.ReasonAdmin)
			if err != nil {
				return err
			}
			adminAction(ctx, ev, event.Event{Action: event.ActionUserRevoke, UserID: u.ID, Count: len(ids)})
			fmt.Fprintf(c.stdout, "revoked %d session(s) of %s\n", len(ids), u.Username)
			return nil
		}
		if _, err := sm.Revoke(ctx, args[0], session.ReasonAdmin); err != nil {
			if errors.Is(err, session.ErrNotFound) {
				return fmt.Errorf("no session %q", args[0])
			}
			return err
		}
		adminAction(ctx, ev, event.Event{Action: event.ActionSessionRevoke, SessionID: args[0]})
		fmt.Fprintf(c.stdout, "revoked session %s\n", args[0])
		return nil
	})
	cmd.AddCommand(list, revoke)
	return cmd
}

// userByName finds a user by the name an operator typed.
func userByName(ctx context.Context, st store.Store, name string) (store.User, error) {
	n, err := authn.NormalizeUsername(name)
	if err != nil {
		return store.User{}, fmt.Errorf("no user %q", name)
	}
	u, err := st.UserByUsername(ctx, n)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("no user %q", name)
	}
	return u, err
}

func (c *cli) newPolicyCmd() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "policy", Short: "Show the lifecycle policy"})
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective lifecycle policy (defaults < config file < environment)",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := loadConfig(c.flags)
			if err != nil {
				return err
			}
			b, err := cfg.Policy.YAML()
			if err != nil {
				return err
			}
			path, _ := configFile(c.flags)
			fmt.Fprintf(c.stdout, "# effective policy: defaults < %s < TESSERA_* environment\n", orDefault(path, "no config file"))
			if _, err = c.stdout.Write(b); err != nil {
				return err
			}
			// The detection rules and their actions (docs/detection.md).
			if b, err = cfg.Detection.YAML(); err != nil {
				return err
			}
			_, err = c.stdout.Write(b)
			return err
		},
	})
	return cmd
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
