package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/tessera-auth/tessera", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef"},
			{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tt := range []struct {
		name     string
		override Info
		bi       *debug.BuildInfo
		want     Info
	}{
		{"build info", Info{}, bi, Info{"v1.4.0", "0123456789abcdef", "2026-11-30T10:00:00Z", "go1.26.8", true}},
		{"-X overrides", Info{Version: "v9", Revision: "feedface", Date: "2026-12-01"}, bi, Info{"v9", "feedface", "2026-12-01", "go1.26.8", true}},
		{"-X without vcs (-buildvcs=false)", Info{Version: "v9", Revision: "feedface", Date: "2026-12-01"}, &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, Info{"v9", "feedface", "2026-12-01", "go1.26.8", false}},
		{"devel", Info{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, Info{Version: "dev"}},
		{"no build info", Info{}, nil, Info{Version: "dev"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Read(tt.override, tt.bi); got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	s := Read(Info{}, bi).String()
	for _, want := range []string{"tessera v1.4.0\n", "commit  0123456789abcdef (modified)", "date    2026-11-30T10:00:00Z", "go      go1.26.8"} {
		if !strings.Contains(s, want) {
			t.Errorf("version text lacks %q:\n%s", want, s)
		}
	}
}
