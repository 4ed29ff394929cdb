package feed

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
)

// sharedData returns the shared public data set beside the repository,
// or "" when it is not there (the copies in testdata are then used).
func sharedData() string {
	d := filepath.Join("..", "..", "..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(d, "fortinet")); err != nil {
		return ""
	}
	return d
}

func loadAllNVD(t *testing.T, dirs ...string) map[string]*NVDCVE {
	out := map[string]*NVDCVE{}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "CVE-*.json"))
		for _, f := range files {
			if strings.Contains(f, "awaiting") {
				continue
			}
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := ParseNVD(fh)
			fh.Close()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for i := range recs {
				out[recs[i].ID] = &recs[i]
			}
		}
	}
	return out
}

func loadAllFortinet(t *testing.T, globs ...string) []*FortinetAdvisory {
	var out []*FortinetAdvisory
	seen := map[string]bool{}
	for _, g := range globs {
		files, _ := filepath.Glob(g)
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			a, err := ParseFortinet(fh)
			fh.Close()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if !seen[a.ID] {
				seen[a.ID] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// neighbours returns v and the versions one step below and above it in
// its last number ("6.0.16" → 6.0.15, 6.0.16, 6.0.17).
func neighbours(v string) []string {
	parts := strings.Split(v, ".")
	n, err := strconv.Atoi(parts[len(parts)-1])
	if err != nil {
		return []string{v}
	}
	out := []string{v}
	for _, d := range []int{-1, 1} {
		if n+d < 0 {
			continue
		}
		p := append([]string{}, parts...)
		p[len(p)-1] = strconv.Itoa(n + d)
		out = append(out, strings.Join(p, "."))
	}
	return out
}

func isFortiOS(n cpe.Name) bool {
	return n.Text(cpe.Vendor) == "fortinet" && n.Text(cpe.Product) == "fortios"
}

// TestFortiOSAgreement checks, for every FortiOS CVE present both in NVD's
// records and in Fortinet's advisories, that the versions the advisories
// name (every bound and first fixed release, with the releases next to
// each) are affected according to NVD exactly when they are according to
// Fortinet. The device is a FortiGate-60F, a model no CVE singles out.
func TestFortiOSAgreement(t *testing.T) {
	nvdDirs := []string{filepath.Join("..", "testdata", "nvd")}
	fgGlobs := []string{filepath.Join("..", "testdata", "fortinet", "*.json")}
	if d := sharedData(); d != "" {
		nvdDirs = append(nvdDirs, filepath.Join(d, "nvd"))
		fgGlobs = append(fgGlobs, filepath.Join(d, "fortinet", "*", "*.json"))
	} else {
		t.Log("shared data set not found; using the copies in testdata")
	}
	nvd := loadAllNVD(t, nvdDirs...)
	advisories := loadAllFortinet(t, fgGlobs...)

	vendorRules := map[string][]*match.Rules{}
	versions := map[string]map[string]bool{}
	for _, a := range advisories {
		for cve, r := range a.Rules(testReg) {
			if nvd[cve] == nil || r.Pending {
				continue
			}
			has := false
			for _, c := range r.Configs {
				for _, n := range c.Nodes {
					for _, cr := range n.Criteria {
						if !cr.Vulnerable || !isFortiOS(cr.Name) {
							continue
						}
						has = true
						if versions[cve] == nil {
							versions[cve] = map[string]bool{}
						}
						for _, b := range append([]string{cr.StartIncluding, cr.StartExcluding, cr.EndIncluding, cr.EndExcluding, cr.Name.Text(cpe.Version)}, cr.FixedIn...) {
							if b == "" || b == "*" || strings.HasPrefix(b, "cpe:") {
								continue
							}
							for _, v := range neighbours(b) {
								versions[cve][v] = true
							}
						}
					}
				}
			}
			if has {
				vendorRules[cve] = append(vendorRules[cve], r)
			}
		}
	}
	if len(vendorRules) < 5 {
		t.Fatalf("only %d FortiOS CVEs in both sources; want at least the 5 known ones", len(vendorRules))
	}
	cves := make([]string, 0, len(vendorRules))
	for c := range vendorRules {
		cves = append(cves, c)
	}
	sort.Strings(cves)
	checked := 0
	for _, cve := range cves {
		nvdRules, err := CompileNVD(nvd[cve], testReg)
		if err != nil {
			t.Fatal(err)
		}
		vs := make([]string, 0, len(versions[cve]))
		for v := range versions[cve] {
			vs = append(vs, v)
		}
		sort.Strings(vs)
		for _, v := range vs {
			tg := target("cpe:2.3:o:fortinet:fortios:"+cpe.Quote(v), "cpe:2.3:h:fortinet:fortigate-60f:-")
			n := match.Evaluate(nvdRules, tg)
			f := match.Result{}
			for _, r := range vendorRules[cve] {
				if res := match.Evaluate(r, tg); res.Affected && (!f.Affected || res.Confidence == match.ConfidenceExact) {
					f = res
				}
			}
			checked++
			if n.Affected != f.Affected {
				t.Errorf("%s FortiOS %s: NVD affected=%v, Fortinet affected=%v", cve, v, n.Affected, f.Affected)
				continue
			}
			if n.Affected && (n.Confidence != match.ConfidenceExact || f.Confidence != match.ConfidenceExact) {
				t.Errorf("%s FortiOS %s: confidences NVD %s, Fortinet %s (reasons %v / %v)", cve, v, n.Confidence, f.Confidence, n.Reasons, f.Reasons)
			}
		}
	}
	t.Logf("%d CVEs, %d version checks agree", len(cves), checked)
}
