package testkit

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// SourceMatch is one match of a pattern in a source file: the file and the
// submatches (0 is the whole match).
type SourceMatch struct {
	File   string
	Groups []string
}

// SourceMatches reads the files the globs name (relative to the package
// being tested), leaving out the tests, and returns every match of re in
// them, file by file in glob order: the way a test finds the message keys
// or routes a package names.
func SourceMatches(t testing.TB, re *regexp.Regexp, globs ...string) []SourceMatch {
	t.Helper()
	var out []SourceMatch
	for _, g := range globs {
		files, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				out = append(out, SourceMatch{File: f, Groups: m})
			}
		}
	}
	return out
}
