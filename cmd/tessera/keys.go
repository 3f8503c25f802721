package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/event"
	"github.com/tessera-auth/tessera/keys"
)

// masterKey returns the key that seals signing keys: TESSERA_MASTER_KEY, or
// the data folder's master-key file, generated (mode 0600) on first start.
// Losing it makes the stored signing keys useless: back it up apart from the
// database, which is useless without it.
func masterKey(c config.Config) (keys.MasterKey, string, bool, error) {
	if v := os.Getenv("TESSERA_MASTER_KEY"); v != "" {
		m, err := keys.ParseMasterKey(v)
		return m, "TESSERA_MASTER_KEY", false, err
	}
	path := filepath.Join(c.Data, "master-key")
	b, err := os.ReadFile(path)
	if err == nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return keys.MasterKey{}, "", false, fmt.Errorf("%s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		m, err := keys.ParseMasterKey(string(b))
		if err != nil {
			return keys.MasterKey{}, "", false, fmt.Errorf("%s: %w", path, err)
		}
		return m, path, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return keys.MasterKey{}, "", false, err
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return keys.MasterKey{}, "", false, err
	}
	m, text, err := keys.NewMasterKey()
	if err != nil {
		return keys.MasterKey{}, "", false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return keys.MasterKey{}, "", false, fmt.Errorf("writing master key: %w", err)
	}
	if _, err := f.WriteString(text + "\n"); err != nil {
		f.Close()
		return keys.MasterKey{}, "", false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return keys.MasterKey{}, "", false, err
	}
	return m, path, true, f.Close()
}

// keyring is the signing keyset and the master key it was opened with.
type keyring struct {
	keys          *keys.Keyset
	master        keys.MasterKey
	masterSource  string
	masterCreated bool
}

func openKeyset(ctx context.Context, c config.Config, st keys.Store, log *slog.Logger, ev event.Sink) (keyring, error) {
	m, source, created, err := masterKey(c)
	if err != nil {
		return keyring{}, err
	}
	k := c.Policy.Keys
	ks, err := keys.New(st, m, keys.Config{Alg: k.Algorithm, RotationInterval: k.RotationInterval.D(), RetiredTTL: k.RetiredTTL.D(), Logger: log, Events: ev})
	if err != nil {
		return keyring{}, err
	}
	if err := ks.Load(ctx); err != nil {
		return keyring{}, err
	}
	return keyring{keys: ks, master: m, masterSource: source, masterCreated: created}, nil
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
	ev := newEvents(newLogger(c, stderr), nil)
	kr, err := openKeyset(ctx, c, st, nil, ev)
	if err != nil {
		return err
	}
	ks := kr.keys
	if args[0] == "rotate" {
		kid, err := ks.Rotate(ctx)
		if err != nil {
			return err
		}
		ev.Publish(ctx, event.Event{Kind: event.AdminAction, At: time.Now().UTC(), Actor: event.ActorCLI, Action: event.ActionKeyRotate, KID: kid})
		fmt.Fprintf(stdout, "active key is now %s (running servers follow within 30s)\n", kid)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tPUBLISHED")
	for _, k := range ks.List() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", k.KID, k.Alg, k.State, k.CreatedAt.Format(time.RFC3339), k.Published)
	}
	return tw.Flush()
}
