package tessera_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// mdLink is a Markdown link's target.
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// pathLike is a slash-separated path in running text or code, not part
	// of a URL or of a longer path.
	pathLike = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./:-])((?:\.\.?/)*(?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.-]*[A-Za-z0-9_])`)
	// fileExt marks a path as a file's whatever folder it starts with.
	fileExt = regexp.MustCompile(`\.(?:md|go|sql|ya?ml|json|mjs|sh|service|toml|conf)$`)
	// goIdent is a Go identifier after a package path (`internal/app.New`).
	goIdent = regexp.MustCompile(`\.[A-Z][A-Za-z0-9_]*$`)
)

// TestDocsNameExistingPaths: every repository path the README and docs/
// link to or name exists, so a reader is never sent to a file that is not
// there: Markdown links, paths starting with one of the repository's
// folders (`store/postgres/pgtest`, ./bench/cmd/benchrun, .ci/run, a
// package path with an identifier such as `internal/app.New`), and any
// other path to a file by its extension (shared/API.md was one).
func TestDocsNameExistingPaths(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	top := map[string]bool{".ci": true}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			top[e.Name()] = true
		}
	}
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, doc := range append(files, "README.md") {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		// exists reports whether ref names something in the repository,
		// relative to base; refs leaving the repository are not checked.
		check := func(ref, base string) {
			p := filepath.Join(base, filepath.FromSlash(ref))
			abs, err := filepath.Abs(p)
			if err != nil || !strings.HasPrefix(abs, root+string(filepath.Separator)) {
				return
			}
			checked++
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s names %q, which is not in the repository", doc, ref)
			}
		}
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			check(target, filepath.Dir(doc))
		}
		for _, m := range pathLike.FindAllStringSubmatch(text, -1) {
			ref := m[1]
			if strings.HasPrefix(ref, "../") {
				check(ref, filepath.Dir(doc))
				continue
			}
			ref = strings.TrimPrefix(ref, "./")
			first, _, _ := strings.Cut(ref, "/")
			switch {
			case top[first]:
				check(goIdent.ReplaceAllString(ref, ""), ".")
			case fileExt.MatchString(ref):
				// Relative to the document, else to the repository root.
				if _, err := os.Stat(filepath.Join(filepath.Dir(doc), ref)); err != nil {
					check(ref, ".")
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d paths checked: the patterns no longer find the docs' paths", checked)
	}
}

// recipe is a code block in docs/clients.md with the file it is taken from.
var recipe = regexp.MustCompile("(?s)<!-- tested: ([^ ]+) -->\n```[a-z]*\n(.*?)```")

// TestClientRecipesAreTested: every line of every recipe in
// docs/clients.md is a line of the test file named above it, so the
// recipes are the code the interop tests run (interop/js by TestNPMClients
// and TestJoseVerifiesOurTokens, the Go ones in interop/).
func TestClientRecipesAreTested(t *testing.T) {
	b, err := os.ReadFile("docs/clients.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := recipe.FindAllStringSubmatch(string(b), -1)
	if len(blocks) < 10 {
		t.Fatalf("found %d tested recipes in docs/clients.md", len(blocks))
	}
	for _, m := range blocks {
		src, err := os.ReadFile(m[1])
		if err != nil {
			t.Errorf("docs/clients.md: recipe from %s: %v", m[1], err)
			continue
		}
		lines := map[string]bool{}
		for l := range strings.SplitSeq(string(src), "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for l := range strings.SplitSeq(m[2], "\n") {
			if l = strings.TrimSpace(l); l != "" && !lines[l] {
				t.Errorf("docs/clients.md: a recipe line is not in %s: %s", m[1], l)
			}
		}
	}
}
