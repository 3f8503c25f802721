package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/config"
)

func (c *cli) newConfigCmd() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "config", Short: "Show the effective configuration"})
	show := &cobra.Command{
		Use:   "show",
		Short: "Print every effective setting and where its value came from",
		Long: `Print every effective setting, its TESSERA_* variable, and where its value
came from: default, file (--config or TESSERA_CONFIG), env (a TESSERA_*
variable) or flag (--data, --store). Secrets are redacted: a store URL's
password, TESSERA_ADMIN_TOKEN, TESSERA_MASTER_KEY, client secrets. It opens
nothing: the store, the admin token and the master key are not read.`,
		Args: noArgs,
	}
	out := addOutputFlag(show)
	show.RunE = func(*cobra.Command, []string) error {
		cfg, src, err := loadConfigSources(c.flags)
		if err != nil {
			return err
		}
		path, from := configFile(c.flags)
		settings := cfg.Settings(src)
		other := otherVariables(cfg)
		if *out == "json" {
			type row struct {
				Key    string `json:"key"`
				Env    string `json:"env"`
				Value  string `json:"value"`
				Source string `json:"source"`
			}
			rows := make([]row, 0, len(settings)+len(other))
			for _, s := range settings {
				rows = append(rows, row{s.Key, s.Env, s.Value, string(s.Source)})
			}
			for _, o := range other {
				rows = append(rows, row{"", o.env, o.value, o.source})
			}
			return writeJSON(c.stdout, rows)
		}
		if path != "" {
			fmt.Fprintf(c.stdout, "# config file: %s (from %s)\n", path, from)
		} else {
			fmt.Fprintf(c.stdout, "# config file: none (--config FILE or %s)\n", config.ConfigEnv)
		}
		fmt.Fprintln(c.stdout, "# precedence: default < file < env < flag")
		tw := newTable(c.stdout, "SETTING\tVALUE\tSOURCE")
		for _, s := range settings {
			where := string(s.Source)
			switch s.Source {
			case config.SourceEnv:
				where += " " + s.Env
			case config.SourceFile:
				where += " " + path
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, s.Value, where)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, "\n# secrets and other variables (not settings)")
		tw = newTable(c.stdout, "VARIABLE\tVALUE\tSOURCE")
		for _, o := range other {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", o.env, o.value, o.source)
		}
		return tw.Flush()
	}
	cmd.AddCommand(show)
	return cmd
}

type otherVariable struct{ env, value, source string }

// otherVariables describes the secrets that are not settings, and any
// other TESSERA_* variable set that is not one, without their values.
func otherVariables(cfg config.Config) []otherVariable {
	secretOr := func(env, otherwise string) otherVariable {
		if _, ok := os.LookupEnv(env); ok {
			return otherVariable{env, config.Redacted, "env"}
		}
		return otherVariable{env, "(not set)", otherwise}
	}
	master := cfg.MasterKeyFile
	if master == "" {
		master = filepath.Join(cfg.Data, "master-key")
	}
	out := []otherVariable{
		secretOr("TESSERA_ADMIN_TOKEN", "file "+filepath.Join(cfg.Data, "admin-token")),
		secretOr("TESSERA_MASTER_KEY", "file "+master),
	}
	for _, env := range []string{"TESSERA_CLIENT_ID", "TESSERA_CLIENT_SECRET"} {
		if v, ok := os.LookupEnv(env); ok {
			if env == "TESSERA_CLIENT_SECRET" {
				v = config.Redacted
			}
			out = append(out, otherVariable{env, v, "env (examples/protected-service; not read by tessera)"})
		}
	}
	return out
}
