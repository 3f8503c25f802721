// Command tessera is the Tessera session-token server and its admin CLI.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const long = `tessera — session-token server

  tessera serve   [--data DIR] [--listen ADDR] [--admin-listen ADDR] [--config FILE]
  tessera migrate                      apply schema migrations and exit
  tessera user add NAME [--password-stdin]
  tessera user list
  tessera session list [--user NAME]
  tessera session revoke ID | --user NAME
  tessera client add NAME [--grant G] [--scope S] [--public] [--first-party] [--secret-stdin]
  tessera client list
  tessera keys list | keys rotate      signing keys (JWKS) and their rotation
  tessera policy show                  print the effective lifecycle policy
  tessera config show                  every effective setting and where it came from
  tessera completion bash|zsh|fish|powershell   shell completion script
  tessera version

Every command takes --data DIR (embedded store, default ./tessera-data),
--store URL, --redis URL (several nodes) and --config FILE (or
TESSERA_CONFIG=FILE). Environment variables TESSERA_* override the config file
(e.g. TESSERA_POLICY_SESSION_IDLE_TIMEOUT=15m); flags override both. A
misspelt TESSERA_* variable is an error, as a misspelt key in the file is.
List commands take --output json (-o json). Run 'tessera COMMAND --help' for a
command's flags.`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// errUsage means the arguments were wrong and the command already said how.
var errUsage = errors.New("usage")

// usageError is a mistake in the command line, found before anything is
// opened: exit code 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// failure is an error returned by a command that ran: exit code 1. Every
// other error comes from cobra's parsing of the command line, a usage error.
type failure struct{ error }

func (e failure) Unwrap() error { return e.error }

// cli is what the commands share: the standard streams and the flags every
// command takes.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	flags          commonFlags
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	root := c.newRootCmd()
	root.SetArgs(legacyFlags(root, args))
	cmd, err := root.ExecuteC()
	var ue usageError
	var f failure
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.As(err, &ue) || !errors.As(err, &f):
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "%s: %v\nRun '%[1]s --help' for usage.\n", cmd.CommandPath(), err)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "tessera:", err)
		return exitFailure
	}
}

func (c *cli) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tessera",
		Short:         "Tessera session-token server and its admin CLI",
		Long:          long,
		Version:       currentVersion().String(),
		Args:          unknownCommand,
		RunE:          c.usage,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(c.stdin)
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	// Commands that hold verbs run only to refuse a missing or unknown verb:
	// their usage shows "tessera user [command]" alone, as for a group.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(),
		"{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	pf := root.PersistentFlags()
	pf.StringVar(&c.flags.data, "data", "", "data folder of the embedded store (default ./tessera-data)")
	pf.StringVar(&c.flags.store, "store", "", "store URL instead of the embedded store (sqlite:PATH or postgres://…)")
	pf.StringVar(&c.flags.redis, "redis", "", "Redis URL for state shared by several nodes (redis://, rediss://; serve and session revoke use it)")
	pf.StringVar(&c.flags.config, "config", "", "YAML config file")
	root.AddCommand(
		c.newServeCmd(),
		c.newMigrateCmd(),
		c.newBackupCmd(),
		c.newRestoreCmd(),
		c.newUserCmd(),
		c.newSessionCmd(),
		c.newClientCmd(),
		c.newKeysCmd(),
		c.newAuditCmd(),
		c.newPolicyCmd(),
		c.newConfigCmd(),
		c.newVersionCmd(),
	)
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	for _, sub := range root.Commands() {
		switch sub.Name() {
		case "completion":
			c.group(sub)
		case "help":
			sub.Args = helpTopic
		}
	}
	markFailures(root)
	return root
}

// group makes cmd a command that only holds verbs: alone it prints its
// usage and exits 2; with an unknown verb it refuses it.
func (c *cli) group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = unknownCommand
	cmd.RunE = c.usage
	return cmd
}

// usage prints cmd's usage on stderr for a command line that named no verb.
func (c *cli) usage(cmd *cobra.Command, _ []string) error {
	fmt.Fprint(c.stderr, cmd.UsageString())
	return errUsage
}

// markFailures wraps every command's RunE so that its errors are failures
// (exit 1), told apart from cobra's command-line errors (exit 2).
func markFailures(cmd *cobra.Command) {
	if f := cmd.RunE; f != nil {
		cmd.RunE = func(cmd *cobra.Command, args []string) error {
			err := f(cmd, args)
			var ue usageError
			if err == nil || errors.Is(err, errUsage) || errors.As(err, &ue) {
				return err
			}
			return failure{err}
		}
	}
	for _, sub := range cmd.Commands() {
		markFailures(sub)
	}
}

// unknownCommand refuses any argument of a command that only holds verbs.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set only on its own path
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{errors.New(msg)}
}

// helpTopic refuses "tessera help frobnicate" as an unknown command.
func helpTopic(cmd *cobra.Command, args []string) error {
	if _, rest, err := cmd.Root().Find(args); err != nil || len(rest) > 0 {
		return usagef("unknown help topic %q", strings.Join(args, " "))
	}
	return nil
}

// noArgs refuses stray positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

// exactArgs wants one positional argument per name.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usagef("missing argument %s", strings.Join(names[len(args):], " "))
		case len(args) > len(names):
			return usagef("unexpected argument %q", args[len(names)])
		}
		return nil
	}
}

// flagError words an unknown flag as the standard flag package did, so
// scripts that matched its message keep working.
func flagError(_ *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		if s := ne.GetSpecifiedShortnames(); s != "" {
			return usagef("flag provided but not defined: -%s", ne.GetSpecifiedName())
		}
		return usagef("flag provided but not defined: --%s", ne.GetSpecifiedName())
	}
	return usageError{err}
}

// legacyFlags rewrites "-name" and "-name=value" to their two-dash form when
// name is a long flag of some command: the standard flag package, which the
// CLI used before, accepted both forms, and pflag reads "-name" as the
// shorthands n, a, m, e. Arguments after "--", and flag values, are kept.
func legacyFlags(root *cobra.Command, args []string) []string {
	// name → takes a value; cobra adds --help and --version only while it
	// executes.
	long := map[string]bool{"help": false, "version": false}
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{cmd.PersistentFlags(), cmd.LocalFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { long[f.Name] = f.NoOptDefVal == "" })
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, 0, len(args))
	value := false // the previous argument was a flag waiting for its value
	for i, a := range args {
		if a == "--" && !value {
			return append(out, args[i:]...)
		}
		if value {
			out, value = append(out, a), false
			continue
		}
		if strings.HasPrefix(a, "--") {
			name, _, hasValue := strings.Cut(a[2:], "=")
			value = long[name] && !hasValue
		} else if len(a) > 2 && a[0] == '-' {
			name, _, hasValue := strings.Cut(a[1:], "=")
			if takes, ok := long[name]; ok && len(name) > 1 {
				a = "-" + a
				value = takes && !hasValue
			}
		}
		out = append(out, a)
	}
	return out
}
