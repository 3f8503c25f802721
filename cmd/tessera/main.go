// Command tessera is the Tessera session-token server and its admin CLI.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `tessera — session-token server

Usage:
  tessera serve   [--data DIR] [--listen ADDR] [--admin-listen ADDR] [--config FILE]
  tessera migrate                      apply schema migrations and exit
  tessera user add NAME [--password-stdin]
  tessera user list
  tessera session list [--user NAME]
  tessera session revoke ID | --user NAME
  tessera client add NAME [--grant G] [--scope S] [--public] [--secret-stdin]
  tessera client list
  tessera keys list | keys rotate      signing keys (JWKS) and their rotation
  tessera policy show                  print the effective lifecycle policy
  tessera version

Every command takes --data DIR (embedded store, default ./tessera-data),
--store URL and --config FILE. Environment variables TESSERA_* override the
config file (e.g. TESSERA_POLICY_SESSION_IDLE_TIMEOUT=15m); flags override both.
Run 'tessera COMMAND -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage means the arguments were wrong; the command already said how.
var errUsage = errors.New("usage")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(args[1:], stdout, stderr)
	case "migrate":
		err = cmdMigrate(args[1:], stdout, stderr)
	case "user":
		err = cmdUser(args[1:], stdin, stdout, stderr)
	case "session":
		err = cmdSession(args[1:], stdout, stderr)
	case "client":
		err = cmdClient(args[1:], stdin, stdout, stderr)
	case "keys":
		err = cmdKeys(args[1:], stdout, stderr)
	case "policy":
		err = cmdPolicy(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "tessera", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "tessera: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage), errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintln(stderr, "tessera:", err)
		return 1
	}
}
