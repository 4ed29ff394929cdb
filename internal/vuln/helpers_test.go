package vuln

import (
	"os"
	"testing"

	"github.com/medisac/medisac/internal/vuln/feed"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

var testReg = version.Default()

// rulesFor compiles the NVD record of testdata/nvd/file.
func rulesFor(t testing.TB, file string) *match.Rules {
	t.Helper()
	f, err := os.Open(td("nvd", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := feed.ParseNVD(f)
	if err != nil || len(recs) != 1 {
		t.Fatalf("%s: %d records, %v", file, len(recs), err)
	}
	r, err := feed.CompileNVD(&recs[0], testReg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
