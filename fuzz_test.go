package tessera_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestFuzzTargetsDocumented: every fuzz target is listed in the scheduled
// long-fuzz table of docs/testing.md, so none is left out of the long run
// and its duration is decided, not forgotten.
func TestFuzzTargetsDocumented(t *testing.T) {
	doc, err := os.ReadFile("docs/testing.md")
	if err != nil {
		t.Fatal(err)
	}
	fuzz := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	n := 0
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range fuzz.FindAllSubmatch(src, -1) {
			n++
			row := "| `" + filepath.ToSlash(filepath.Dir(path)) + "` | `" + string(m[1]) + "` |"
			if !strings.Contains(string(doc), row) {
				t.Errorf("docs/testing.md lacks the long-fuzz row %s", row)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no fuzz targets found")
	}
}
