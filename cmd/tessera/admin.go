package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tessera-auth/tessera/authn"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/password"
	"github.com/tessera-auth/tessera/session"
	"github.com/tessera-auth/tessera/store"
	"golang.org/x/term"
)

func cmdMigrate(args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("migrate", stderr, &cf)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	c, err := loadConfig(cf)
	if err != nil {
		return err
	}
	st, path, err := openStore(context.Background(), c)
	if err != nil {
		return err
	}
	defer st.Close()
	v := 0
	if sv, ok := st.(interface {
		SchemaVersion(context.Context) (int, error)
	}); ok {
		v, _ = sv.SchemaVersion(context.Background())
	}
	fmt.Fprintf(stdout, "%s: schema at version %d\n", path, v)
	return nil
}

func cmdUser(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: tessera user add NAME [--password-stdin] | tessera user list\n")
		return errUsage
	}
	var cf commonFlags
	fs := newFlagSet("user "+args[0], stderr, &cf)
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input (first line)")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	ctx := context.Background()
	c, st, err := openForCommand(ctx, cf)
	if err != nil {
		return err
	}
	defer st.Close()

	switch args[0] {
	case "add":
		if len(pos) != 1 {
			fmt.Fprint(stderr, "usage: tessera user add NAME [--password-stdin]\n")
			return errUsage
		}
		pw, err := readPassword(stdin, stderr, *pwStdin)
		if err != nil {
			return err
		}
		ev := newEvents(newLogger(c, stderr), nil)
		an, err := newAuthenticator(c, st, nil, ev)
		if err != nil {
			return err
		}
		u, err := an.CreateUser(ctx, pos[0], pw)
		var pe *password.PolicyError
		switch {
		case errors.As(err, &pe):
			return fmt.Errorf("password refused: %s", pe.Message)
		case errors.Is(err, authn.ErrInvalidUsername):
			return errors.New("usernames are 1 to 64 characters of a-z, 0-9 and . _ @ + -")
		case errors.Is(err, authn.ErrUsernameTaken):
			return fmt.Errorf("user %q already exists", pos[0])
		case err != nil:
			return err
		}
		ev.Publish(ctx, event.Event{Kind: event.AdminAction, At: time.Now().UTC(), Actor: event.ActorCLI, Action: event.ActionUserCreate, UserID: u.ID})
		fmt.Fprintln(stdout, u.ID)
		return nil
	case "list":
		us, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tCREATED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.ID, u.Username, u.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
	fmt.Fprintf(stderr, "tessera user: unknown subcommand %q\n", args[0])
	return errUsage
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

func cmdSession(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: tessera session list [--user NAME] | tessera session revoke ID | --user NAME\n")
		return errUsage
	}
	var cf commonFlags
	fs := newFlagSet("session "+args[0], stderr, &cf)
	userName := fs.String("user", "", "a username")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	ctx := context.Background()
	c, st, err := openForCommand(ctx, cf)
	if err != nil {
		return err
	}
	defer st.Close()
	ev := newEvents(newLogger(c, stderr), nil)
	scfg := sessionConfig(c)
	scfg.Events = ev
	sm := session.New(st, scfg)
	var user store.User
	if *userName != "" {
		name, err := authn.NormalizeUsername(*userName)
		if err == nil {
			user, err = st.UserByUsername(ctx, name)
		}
		if err != nil {
			return fmt.Errorf("no user %q", *userName)
		}
	}

	switch args[0] {
	case "list":
		users := []store.User{user}
		if *userName == "" {
			if users, err = st.ListUsers(ctx); err != nil {
				return err
			}
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SESSION\tUSER\tCREATED\tLAST SEEN\tIP\tAMR")
		n := 0
		for _, u := range users {
			ss, err := sm.List(ctx, u.ID)
			if err != nil {
				return err
			}
			for _, s := range ss {
				n++
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, u.Username, s.CreatedAt.Format(time.RFC3339),
					s.LastSeenAt.Format(time.RFC3339), s.IP, strings.Join(s.AMR, ","))
			}
		}
		tw.Flush()
		fmt.Fprintf(stderr, "%d live session(s)\n", n)
		return nil
	case "revoke":
		switch {
		case *userName != "" && len(pos) == 0:
			ids, err := sm.RevokeUser(ctx, user.ID, "", session.ReasonAdmin)
			if err != nil {
				return err
			}
			ev.Publish(ctx, event.Event{Kind: event.AdminAction, At: time.Now().UTC(), Actor: event.ActorCLI, Action: event.ActionUserRevoke, UserID: user.ID, Count: len(ids)})
			fmt.Fprintf(stdout, "revoked %d session(s) of %s\n", len(ids), user.Username)
			return nil
		case *userName == "" && len(pos) == 1:
			if _, err := sm.Revoke(ctx, pos[0], session.ReasonAdmin); err != nil {
				if errors.Is(err, session.ErrNotFound) {
					return fmt.Errorf("no session %q", pos[0])
				}
				return err
			}
			ev.Publish(ctx, event.Event{Kind: event.AdminAction, At: time.Now().UTC(), Actor: event.ActorCLI, Action: event.ActionSessionRevoke, SessionID: pos[0]})
			fmt.Fprintf(stdout, "revoked session %s\n", pos[0])
			return nil
		}
		fmt.Fprint(stderr, "usage: tessera session revoke ID | tessera session revoke --user NAME\n")
		return errUsage
	}
	fmt.Fprintf(stderr, "tessera session: unknown subcommand %q\n", args[0])
	return errUsage
}

func cmdPolicy(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "show" {
		fmt.Fprint(stderr, "usage: tessera policy show [--config FILE]\n")
		return errUsage
	}
	var cf commonFlags
	fs := newFlagSet("policy show", stderr, &cf)
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	c, err := loadConfig(cf)
	if err != nil {
		return err
	}
	b, err := c.Policy.YAML()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# effective policy: defaults < %s < TESSERA_* environment\n", orDefault(cf.config, "no config file"))
	_, err = stdout.Write(b)
	return err
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
