package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/config"
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

func openKeyset(ctx context.Context, c config.Config, st keys.Store, log *slog.Logger) (keyring, error) {
	m, source, created, err := masterKey(c)
	if err != nil {
		return keyring{}, err
	}
	k := c.Policy.Keys
	ks, err := keys.New(st, m, keys.Config{Alg: k.Algorithm, RotationInterval: k.RotationInterval.D(), RetiredTTL: k.RetiredTTL.D(), Logger: log})
	if err != nil {
		return keyring{}, err
	}
	if err := ks.Load(ctx); err != nil {
		return keyring{}, err
	}
	return keyring{keys: ks, master: m, masterSource: source, masterCreated: created}, nil
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
	open := openExisting
	if rotate {
		open = openForCommand
	}
	cfg, st, err := open(ctx, c.flags)
	if err != nil {
		return err
	}
	defer st.Close()
	kr, err := openKeyset(ctx, cfg, st, nil)
	if err != nil {
		return err
	}
	ks := kr.keys
	if rotate {
		kid, err := ks.Rotate(ctx)
		if err != nil {
			return err
		}
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
