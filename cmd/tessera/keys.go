package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/internal/app"
	"github.com/tessera-auth/tessera/keys"
)

// keyring is the signing keyset and the master key it was opened with.
type keyring struct {
	keys *keys.Keyset
	ring app.Keyring
}

func openKeyset(ctx context.Context, c config.Config, st keys.Store, log *slog.Logger) (keyring, error) {
	r, err := app.OpenKeyring(ctx, c, st, log)
	if err != nil {
		return keyring{}, err
	}
	return keyring{keys: r.Keys, ring: r}, nil
}

func cmdKeys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "rotate") {
		fmt.Fprint(stderr, "usage: tessera keys list | tessera keys rotate\n")
		return errUsage
	}
	var cf commonFlags
	fs := newFlagSet("keys "+args[0], stderr, &cf)
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	ctx := context.Background()
	c, st, err := openForCommand(ctx, cf)
	if err != nil {
		return err
	}
	defer st.Close()
	kr, err := openKeyset(ctx, c, st, nil)
	if err != nil {
		return err
	}
	ks := kr.keys
	if args[0] == "rotate" {
		kid, err := ks.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "active key is now %s (running servers follow within 30s)\n", kid)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tPUBLISHED")
	for _, k := range ks.List() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", k.KID, k.Alg, k.State, k.CreatedAt.Format(time.RFC3339), k.Published)
	}
	return tw.Flush()
}
