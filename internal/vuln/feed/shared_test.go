package feed

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSharedData reads every file of the shared public data set that this
// package imports, when the data set is beside the repository.
func TestSharedData(t *testing.T) {
	d := sharedData()
	if d == "" {
		t.Skip("shared data set not beside the repository")
	}
	open := func(p string) *os.File {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	kev, err := ParseKEV(open(filepath.Join(d, "kev", "known_exploited_vulnerabilities.json")))
	if err != nil {
		t.Fatal(err)
	}
	ransom := 0
	for i := range kev.Vulnerabilities {
		if kev.Vulnerabilities[i].Ransomware() {
			ransom++
		}
	}
	if kev.Count != 1404 || ransom != 293 {
		t.Errorf("KEV: %d entries, %d ransomware", kev.Count, ransom)
	}
	rows := 0
	files, _ := filepath.Glob(filepath.Join(d, "epss", "*.csv"))
	gz, _ := filepath.Glob(filepath.Join(d, "epss", "first-official-format", "*.gz"))
	for _, f := range append(files, gz...) {
		e, err := ParseEPSS(open(f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rows += len(e.Scores)
	}
	if rows != 184487+8 {
		t.Errorf("EPSS rows %d", rows)
	}
	csaf, _ := filepath.Glob(filepath.Join(d, "csaf", "icsma-*.json"))
	vex, _ := filepath.Glob(filepath.Join(d, "csaf", "it", "va-*.json"))
	for _, f := range append(csaf, vex...) {
		doc, err := ParseCSAF(open(f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(doc.Products()) == 0 {
			t.Errorf("%s: no products", f)
		}
	}
	for _, f := range []string{"jvndb_2011.rdf", "jvndb_2023.rdf", "jvndb_new.rdf"} {
		if _, err := ParseJVNRSS(open(filepath.Join(d, "jvn", f))); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"jvndb_detail_2021.rdf", "jvndb_detail_2022.rdf"} {
		if _, err := ParseJVNDetail(open(filepath.Join(d, "jvn", f))); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	fg, _ := filepath.Glob(filepath.Join(d, "fortinet", "*", "*.json"))
	for _, f := range fg {
		a, err := ParseFortinet(open(f))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		a.Rules(testReg)
	}
	if len(fg) != 1114 {
		t.Errorf("%d Fortinet advisories", len(fg))
	}
	nvd, _ := filepath.Glob(filepath.Join(d, "nvd*", "*.json"))
	for _, f := range nvd {
		recs, err := ParseNVD(open(f))
		if err != nil || len(recs) != 1 {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, err := CompileNVD(&recs[0], testReg); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range append(append(append(files, csaf...), fg[:50]...), nvd...) {
		head := make([]byte, 4096)
		n, _ := open(f).Read(head)
		if DetectFormat(filepath.Base(f), head[:n]) == FormatUnknown {
			t.Errorf("%s: format not detected", f)
		}
	}
}
