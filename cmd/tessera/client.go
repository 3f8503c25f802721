package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/oauth"
)

// listFlag collects a repeatable, comma-separable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func cmdClient(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "list") {
		fmt.Fprint(stderr, "usage: tessera client add NAME [--grant G]... [--scope S]... [--public] [--secret-stdin] [--token-format jwt|opaque] | tessera client list\n")
		return errUsage
	}
	var cf commonFlags
	fs := newFlagSet("client "+args[0], stderr, &cf)
	var grants, scopes listFlag
	fs.Var(&grants, "grant", "allowed grant type: client_credentials (default) or refresh_token; repeatable")
	fs.Var(&scopes, "scope", "allowed scope; repeatable or comma-separated")
	public := fs.Bool("public", false, "a public client (SPA, mobile app): no secret")
	secretStdin := fs.Bool("secret-stdin", false, "read the client secret from stdin instead of generating one")
	format := fs.String("token-format", "jwt", "access tokens: jwt (verified locally) or opaque (validated by introspection)")
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
	if args[0] == "list" {
		cs, err := st.ListClients(ctx)
		if err != nil {
			return err
		}
		for _, x := range cs {
			kind := "confidential"
			if x.SecretHash == nil {
				kind = "public"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\tgrants=%s\tscopes=%s\n", x.ID, x.Name, kind, strings.Join(x.Grants, ","), strings.Join(x.Scopes, ","))
		}
		return nil
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, "usage: tessera client add NAME [--grant G]... [--scope S]... [--public] [--secret-stdin]\n")
		return errUsage
	}
	secret := ""
	if *secretStdin {
		if secret, err = readPassword(stdin, stderr, true); err != nil {
			return err
		}
	}
	ev := newEvents(newLogger(c, stderr), nil)
	kr, err := openKeyset(ctx, c, st, nil, ev)
	if err != nil {
		return err
	}
	svc, _, err := newOAuth(c, st, kr, nil, ev, nil)
	if err != nil {
		return err
	}
	cl, sec, err := svc.RegisterClient(ctx, oauth.ClientSpec{Name: pos[0], Grants: grants, Scopes: scopes, Public: *public, Secret: secret, TokenFormat: *format})
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return errors.New(oe.Description)
	}
	if err != nil {
		return err
	}
	ev.Publish(ctx, event.Event{Kind: event.AdminAction, At: time.Now().UTC(), Actor: event.ActorCLI, Action: event.ActionClientRegister, ClientID: cl.ID})
	fmt.Fprintf(stdout, "client_id:     %s\n", cl.ID)
	if sec != "" && !*secretStdin {
		fmt.Fprintf(stdout, "client_secret: %s\n", sec)
		fmt.Fprintln(stderr, "Store the secret now: only a keyed hash of it is kept.")
	}
	return nil
}
