package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/tessera-auth/tessera/internal/buildinfo"
)

// currentVersion is this binary's build (internal/buildinfo: the build
// information the go command records, or -ldflags -X overrides).
func currentVersion() buildinfo.Info { return buildinfo.Current() }

func (c *cli) newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit and the build date",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(c.stdout, currentVersion())
			return err
		},
	}
}
