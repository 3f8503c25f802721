package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version and date may be set at build time with
// -ldflags "-X main.version=… -X main.date=…"; otherwise they come from the
// build information the go command records (module version, vcs.time).
var version, date = "dev", ""

func init() { version = currentVersion().Version }

// buildVersion names what was built: the version, the commit and its date.
type buildVersion struct {
	Version, Commit, Date, Go string
	Modified                  bool // built from a tree with uncommitted changes
}

func currentVersion() buildVersion {
	bi, _ := debug.ReadBuildInfo()
	return readVersion(version, date, bi)
}

// readVersion prefers the -X overrides, then the build information; bi may
// be nil (a binary built without module support).
func readVersion(version, date string, bi *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: version, Date: date}
	if bi == nil {
		return v
	}
	v.Go = bi.GoVersion
	if mv := bi.Main.Version; v.Version == "dev" && mv != "" && mv != "(devel)" {
		v.Version = mv
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.time":
			if v.Date == "" {
				v.Date = s.Value
			}
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (v buildVersion) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tessera %s\n", v.Version)
	commit := orDefault(v.Commit, "unknown (built without version control information)")
	if v.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(&b, "  commit  %s\n", commit)
	fmt.Fprintf(&b, "  date    %s\n", orDefault(v.Date, "unknown"))
	fmt.Fprintf(&b, "  go      %s", orDefault(v.Go, "unknown"))
	return b.String()
}

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
