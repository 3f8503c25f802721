package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/config"
	"github.com/tessera-auth/tessera/store"
)

// errNoData means a command that only reads found no store to read.
var errNoData = errors.New("no Tessera data")

// requireData fails with errNoData unless the configured embedded store
// already exists, so that read-only commands never create a data folder or
// a database: a wrong --data is an error, not a fresh empty store.
func requireData(c config.Config) error {
	path := filepath.Join(c.Data, "tessera.db")
	where := c.Data
	if c.Store != "" {
		p, ok := strings.CutPrefix(c.Store, "sqlite:")
		if !ok {
			return nil // not an embedded store: opening it creates nothing
		}
		path, where = p, p
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w in %s; run tessera serve or tessera migrate first", errNoData, where)
		}
		return err
	}
	return nil
}

// openExisting loads the configuration and opens its store, which must
// already exist (requireData).
func openExisting(ctx context.Context, cf commonFlags) (config.Config, store.Store, error) {
	c, err := loadConfig(cf)
	if err != nil {
		return config.Config{}, nil, err
	}
	if err := requireData(c); err != nil {
		return config.Config{}, nil, err
	}
	st, _, err := openStore(ctx, c)
	if err != nil {
		return config.Config{}, nil, err
	}
	return c, st, nil
}

// outputFlag is --output (-o) of the list commands: text for people, json
// for programs (an array of objects with stable snake_case field names and
// RFC 3339 times in UTC).
type outputFlag string

func (o *outputFlag) String() string { return string(*o) }
func (o *outputFlag) Type() string   { return "format" }
func (o *outputFlag) Set(v string) error {
	switch v {
	case "text", "json":
		*o = outputFlag(v)
		return nil
	}
	return fmt.Errorf("want text or json, not %q", v)
}

func addOutputFlag(cmd *cobra.Command) *outputFlag {
	o := outputFlag("text")
	cmd.Flags().VarP(&o, "output", "o", "output format: text or json")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return &o
}

// writeJSON writes v, a slice, as an indented JSON array ("[]" when empty).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonTime is a time for --output json: RFC 3339 in UTC, omitted when zero.
func jsonTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// orEmpty keeps a nil list from encoding as null.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
