package feed

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/medisac/medisac/internal/vuln/version"
)

var testReg = version.Default()

// td names a file of the feed copies in internal/vuln/testdata.
func td(parts ...string) string {
	return filepath.Join(append([]string{"..", "testdata"}, parts...)...)
}

func loadNVD(t testing.TB, file string) *NVDCVE {
	t.Helper()
	f, err := os.Open(td("nvd", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ParseNVD(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(recs) != 1 {
		t.Fatalf("%s: %d records", file, len(recs))
	}
	return &recs[0]
}

func target(ids ...string) *match.Target {
	var names []cpe.Name
	for _, s := range ids {
		names = append(names, cpe.MustParse(s))
	}
	return match.NewTarget("asset", names, testReg)
}
