package feed

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/vuln/cpe"
	"github.com/medisac/medisac/internal/vuln/match"
)

func addFiles(f *testing.F, pattern string, max int) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", pattern))
	for _, p := range files {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > max {
			b = b[:max]
		}
		f.Add(b)
	}
}

func FuzzParseNVD(f *testing.F) {
	addFiles(f, "nvd/CVE-2022-42475.json", 1<<20)
	addFiles(f, "nvd/CVE-2024-3400.awaiting-analysis-2024-04-13.json", 1<<20)
	addFiles(f, "nvd/CVE-2023-4966.json", 1<<20)
	f.Add(nvdPage([]byte(`{"id":"CVE-2024-0001","configurations":[{"operator":"AND","negate":true,"nodes":[{"operator":"OR","negate":true,"cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:a:x:y:*:*:*:*:*:*:*:*","versionEndExcluding":"2.0"}]}]}]}`)))
	f.Add([]byte(`[{"id":"CVE-2024-0002"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ParseNVD(bytes.NewReader(data))
		if err != nil {
			if _, _, ok := FeedError(err); !ok {
				t.Fatalf("error without a message key: %v", err)
			}
			return
		}
		for i := range recs {
			if !cveID.MatchString(recs[i].ID) {
				t.Fatalf("accepted id %q", recs[i].ID)
			}
			r, err := CompileNVD(&recs[i], testReg)
			if err != nil {
				t.Fatalf("parsed record does not compile: %v", err)
			}
			recs[i].CVSS()
			match.Evaluate(r, target("cpe:2.3:a:x:y:1.0", "cpe:2.3:o:fortinet:fortios:7.2.2", "cpe:2.3:h:citrix:application_delivery_controller:-"))
		}
	})
}

func FuzzParseKEV(f *testing.F) {
	addFiles(f, "kev/kev_trimmed.json", 1<<20)
	f.Add([]byte(`{"catalogVersion":"1","dateReleased":"2025-01-01T00:00:00Z","count":0,"vulnerabilities":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseKEV(bytes.NewReader(data))
		if err == nil && c.Count != len(c.Vulnerabilities) {
			t.Fatal("count mismatch accepted")
		}
	})
}

func FuzzParseEPSS(f *testing.F) {
	addFiles(f, "epss/*.gz", 1<<16)
	addFiles(f, "epss/*.csv", 4096)
	f.Add([]byte("#model_version:v2025.03.14,score_date:2026-05-18T00:00:00Z\ncve,epss,percentile\nCVE-1999-0001,0.0046,0.7385\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEPSS(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, s := range e.Scores {
			if s.EPSS < 0 || s.EPSS > 1 || s.Percentile > 1 || !cveID.MatchString(s.CVE) {
				t.Fatalf("bad row accepted: %+v", s)
			}
		}
	})
}

func FuzzParseJVNRSS(f *testing.F) {
	addFiles(f, "jvn/jvndb_*.rdf", 1<<16)
	f.Fuzz(func(t *testing.T, data []byte) {
		ents, err := ParseJVNRSS(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := range ents {
			if !jvnID.MatchString(ents[i].ID) {
				t.Fatalf("accepted id %q", ents[i].ID)
			}
			ents[i].Rules(testReg)
		}
	})
}

func FuzzParseJVNDetail(f *testing.F) {
	addFiles(f, "jvn/jvndb_detail_*.rdf", 1<<16)
	f.Fuzz(func(t *testing.T, data []byte) {
		ents, err := ParseJVNDetail(bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := range ents {
			match.Evaluate(ents[i].Rules(testReg), target("cpe:2.3:a:apache:log4j:2.14.1"))
		}
	})
}

func FuzzJVNVersions(f *testing.F) {
	for _, s := range []string{"1.5.62 未満", "2.13.0 から 2.15.0 より前のバージョン", "１．０ およびそれ以前", "2.0 以降、3.0 未満", "v1.2 及び v1.3", "全てのバージョン", "2.0～2.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ranges, rest := match.ParseJVNVersions(s)
		for _, r := range ranges {
			if r.Exact == "" && r.Start == "" && r.End == "" && !r.All {
				t.Fatalf("empty range from %q", s)
			}
		}
		_ = rest
	})
}

func FuzzParseCSAF(f *testing.F) {
	addFiles(f, "csaf/*.json", 1<<20)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseCSAF(bytes.NewReader(data))
		if err != nil {
			return
		}
		al := match.DefaultAliases()
		for i := range d.Vulnerabilities {
			for _, p := range d.Products() {
				d.Status(i, p.ID)
				d.FixedVersions(i, p.ID)
			}
			d.MatchAsset(i, al, testReg, "GE", "ApexPro Telemetry Server", "", "4.1")
		}
	})
}

func FuzzParseFortinet(f *testing.F) {
	addFiles(f, "fortinet/*.json", 1<<20)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseFortinet(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, r := range a.Rules(testReg) {
			match.Evaluate(r, target("cpe:2.3:o:fortinet:fortios:7.2.2", "cpe:2.3:h:fortinet:fortigate-60f:-"))
		}
	})
}

func FuzzDetectFormat(f *testing.F) {
	addFiles(f, "*/*", 4096)
	f.Fuzz(func(t *testing.T, head []byte) {
		DetectFormat("file", head)
	})
}

func FuzzIdentify(f *testing.F) {
	f.Add("フォーティネット", "FortiGate", "FG-60F", "v7.2.4,build1396 (GA.F)", "")
	f.Add("Microsoft", "Windows Server 2019", "", "10.0.17763.5206", "")
	f.Add("", "", "", "", "cpe:2.3:a:pulsesecure:pulse_connect_secure:9.0r3.3")
	f.Add("VMware", "ESXi", "", "7.0 Update 1a", "")
	al := match.DefaultAliases()
	f.Fuzz(func(t *testing.T, vendor, product, model, ver, c string) {
		cands := al.Identify(vendor, product, model, ver, c)
		for _, cand := range cands {
			if !strings.HasPrefix(cand.CPE, "cpe:2.3:") || cand.Source == "" {
				t.Fatalf("bad candidate %+v", cand)
			}
			if _, err := cpe.Parse(cand.CPE); err != nil {
				t.Fatalf("candidate %q does not parse: %v", cand.CPE, err)
			}
		}
		x := match.NewIndex(testReg)
		x.Put("a", match.Names(cands))
	})
}
