package sqlmigrate

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema change.
type Migration struct {
	Version int
	Name    string // the file's base name, for errors
	Body    string
}

// Load reads the files of fsys that pattern matches, named by a version
// number, an underscore and a description. Versions must strictly increase
// in name order. It returns the migrations in version order and the latest
// version (0 for none).
func Load(fsys fs.FS, pattern string) ([]Migration, int, error) {
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, 0, err
	}
	sort.Strings(names)
	var ms []Migration
	for _, name := range names {
		base := path.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, 0, fmt.Errorf("migration %s: bad version: %v", base, err)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, 0, err
		}
		if len(ms) > 0 && ms[len(ms)-1].Version >= v {
			return nil, 0, fmt.Errorf("migration %s: version %d repeats or goes back", base, v)
		}
		ms = append(ms, Migration{Version: v, Name: base, Body: string(body)})
	}
	if len(ms) == 0 {
		return nil, 0, nil
	}
	return ms, ms[len(ms)-1].Version, nil
}
