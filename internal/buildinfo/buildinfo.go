package buildinfo

import (
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
)

// Link-time overrides, for release builds, and for builds made with
// -buildvcs=false (.ci/run's GOFLAGS), which record no commit:
//
//	go build -ldflags "-X github.com/tessera-auth/tessera/internal/buildinfo.version=v1.2.3
//	  -X github.com/tessera-auth/tessera/internal/buildinfo.revision=$(git rev-parse HEAD)
//	  -X github.com/tessera-auth/tessera/internal/buildinfo.date=$(git log -1 --format=%cI)"
//
// An empty override leaves the build information's value.
var version, revision, date string

// Info is what was built.
type Info struct {
	Version  string // module version, a -X override, or "dev"
	Revision string // vcs.revision; empty if unknown
	Date     string // vcs.time (the commit's time, RFC 3339); empty if unknown
	Go       string // the Go release that built it
	Modified bool   // built from a tree with uncommitted changes
}

var current = sync.OnceValue(func() Info {
	bi, _ := debug.ReadBuildInfo()
	return Read(Info{Version: version, Revision: revision, Date: date}, bi)
})

// Current is this binary's build.
func Current() Info { return current() }

// Read fills what override leaves empty from bi, which may be nil (a
// binary built without module support).
func Read(override Info, bi *debug.BuildInfo) Info {
	v := override
	if bi != nil {
		if v.Go == "" {
			v.Go = bi.GoVersion
		}
		if mv := bi.Main.Version; v.Version == "" && mv != "" && mv != "(devel)" {
			v.Version = mv
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Revision == "" {
					v.Revision = s.Value
				}
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			case "vcs.modified":
				v.Modified = v.Modified || s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

// String is the text `tessera version` prints.
func (v Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tessera %s\n", v.Version)
	commit := orDefault(v.Revision, "unknown (built without version control information; see docs/operations.md, Building a release)")
	if v.Modified {
		commit += " (modified)"
	}
	fmt.Fprintf(&b, "  commit  %s\n", commit)
	fmt.Fprintf(&b, "  date    %s\n", orDefault(v.Date, "unknown"))
	fmt.Fprintf(&b, "  go      %s", orDefault(v.Go, "unknown"))
	return b.String()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
