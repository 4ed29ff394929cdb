package feed

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/vuln/match"
	"github.com/ulikunitz/xz"
)

func readTestdata(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"..", "testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func xzBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// nvdPage wraps bare records as an API response page / feed file.
func nvdPage(recs ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resultsPerPage":2000,"startIndex":0,"totalResults":` + itoa(len(recs)) + `,"format":"NVD_CVE","version":"2.0","timestamp":"2026-01-01T00:00:00.000","vulnerabilities":[`)
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"cve":`)
		b.Write(r)
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes()
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestParseNVDShapes(t *testing.T) {
	a := readTestdata(t, "nvd", "CVE-2022-42475.json")
	b := readTestdata(t, "nvd", "CVE-2024-3400.awaiting-analysis-2024-04-13.json")
	page := nvdPage(a, b)
	array := []byte("[" + string(a) + "," + string(b) + "]")
	yearly := []byte(`{"timestamp":"2026-01-01T00:00:00","cve_count":2,"feed_name":"CVE-2022","source":"x","cve_items":[` + string(a) + "," + string(b) + "]}")
	cases := map[string][]byte{
		"single": a, "page": page, "array": array, "page.gz": testkit.Gzip(page), "page.xz": xzBytes(t, page),
		"yearly.json.xz": xzBytes(t, yearly),
	}
	for name, in := range cases {
		recs, err := ParseNVD(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := 2
		if name == "single" {
			want = 1
		}
		if len(recs) != want || recs[0].ID != "CVE-2022-42475" {
			t.Fatalf("%s: %d records, first %q", name, len(recs), recs[0].ID)
		}
	}
	empty, err := ParseNVD(strings.NewReader(`{"resultsPerPage":0,"startIndex":0,"totalResults":0,"format":"NVD_CVE","version":"2.0","vulnerabilities":[]}`))
	if err != nil || len(empty) != 0 {
		t.Errorf("empty page: %v %v", empty, err)
	}
	bad := map[string]string{
		"not json":       `hello`,
		"not nvd":        `{"title":"x"}`,
		"bad id":         `{"id":"CVE-20-1","vulnStatus":"Analyzed"}`,
		"bad id in page": string(nvdPage(a, []byte(`{"id":"nope"}`))),
		"bad cpe":        `{"id":"CVE-2024-0001","configurations":[{"nodes":[{"operator":"OR","cpeMatch":[{"vulnerable":true,"criteria":"cpe:2.3:x:bad"}]}]}]}`,
		"truncated":      string(page[:len(page)/2]),
		"bad gzip":       string(testkit.Gzip(page)[:40]),
	}
	for name, in := range bad {
		_, err := ParseNVD(strings.NewReader(in))
		key, _, ok := FeedError(err)
		if err == nil || !ok || !strings.HasPrefix(key, "vuln.feed.") {
			t.Errorf("%s: err %v (key %q)", name, err, key)
		}
	}
}

func TestNVDFields(t *testing.T) {
	c := loadNVD(t, "CVE-2019-19781.json")
	best, ok := c.BestCVSS()
	if !ok || best.Version != "3.1" || best.Score != 9.8 || best.Severity != "CRITICAL" || !best.Primary ||
		best.Vector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" {
		t.Errorf("BestCVSS = %+v", best)
	}
	all := c.CVSS()
	last := all[len(all)-1]
	if last.Version != "2.0" || last.Score != 7.5 || last.Severity != "HIGH" {
		t.Errorf("v2 = %+v", last)
	}
	if got := c.CWEs(); len(got) == 0 || got[0] != "CWE-22" {
		t.Errorf("CWEs = %v", got)
	}
	if c.Published.Format(time.RFC3339Nano) != "2019-12-27T14:15:12.07Z" || c.Rejected() || c.CISAExploitAdd != "2021-11-03" {
		t.Errorf("published %v rejected %v kev %q", c.Published, c.Rejected(), c.CISAExploitAdd)
	}
	if len(c.References) == 0 || c.References[0].URL == "" {
		t.Error("references")
	}
	pending := loadNVD(t, "CVE-2024-3400.awaiting-analysis-2024-04-13.json")
	r, _ := CompileNVD(pending, testReg)
	if pending.VulnStatus != "Awaiting Analysis" || !r.Pending {
		t.Errorf("awaiting analysis: status %q pending %v", pending.VulnStatus, r.Pending)
	}
	if s, ok := pending.BestCVSS(); !ok || s.Score != 10 || s.Primary {
		t.Errorf("CNA score %+v", s)
	}
	rej := NVDCVE{ID: "CVE-2024-0001", VulnStatus: "Rejected"}
	if !rej.Rejected() {
		t.Error("Rejected")
	}
	esxi := loadNVD(t, "CVE-2021-21974.json")
	if esxi.ID != "CVE-2021-21974" || len(esxi.Configurations) == 0 {
		t.Error("record with newer unknown fields")
	}
	// Every real record parses and compiles.
	ents, _ := os.ReadDir(filepath.Join("..", "testdata", "nvd"))
	for _, e := range ents {
		if _, err := CompileNVD(loadNVD(t, e.Name()), testReg); err != nil {
			t.Errorf("%s: %v", e.Name(), err)
		}
	}
}

func TestParseKEV(t *testing.T) {
	cat, err := ParseKEV(bytes.NewReader(readTestdata(t, "kev", "kev_trimmed.json")))
	if err != nil {
		t.Fatal(err)
	}
	if cat.CatalogVersion != "2025.08.25" || cat.Count != len(cat.Vulnerabilities) || cat.DateReleased.Year() != 2025 {
		t.Errorf("catalog %+v", cat.CatalogVersion)
	}
	var pan *KEVEntry
	for i := range cat.Vulnerabilities {
		if cat.Vulnerabilities[i].CVEID == "CVE-2024-3400" {
			pan = &cat.Vulnerabilities[i]
		}
		if cat.Vulnerabilities[i].CVEID == "CVE-2018-13379" && !cat.Vulnerabilities[i].Ransomware() {
			t.Error("CVE-2018-13379 is ransomware-linked")
		}
	}
	if pan == nil || pan.DateAdded != "2024-04-12" {
		t.Fatalf("PAN-OS entry %+v", pan)
	}
	// KEV covers CVE-2024-3400 while NVD has no configurations yet.
	rules := KEVRules(pan, match.DefaultAliases())
	res := match.Evaluate(rules, target("cpe:2.3:o:paloaltonetworks:pan-os:10.2.9"))
	if !res.Affected || res.Confidence != match.ConfidenceProduct || res.Reasons[0] != match.ReasonNoVersionData {
		t.Errorf("KEV fallback: %+v", res)
	}
	if match.Evaluate(rules, target("cpe:2.3:o:fortinet:fortios:7.2.2")).Affected {
		t.Error("KEV rule matched another product")
	}
	good := readTestdata(t, "kev", "kev_trimmed.json")
	for name, mutate := range map[string]func(string) string{
		"count":    func(s string) string { return strings.Replace(s, `"count": 20`, `"count": 21`, 1) },
		"cve id":   func(s string) string { return strings.Replace(s, `"CVE-2024-3400"`, `"CVE-2024"`, 1) },
		"date":     func(s string) string { return strings.Replace(s, `"2024-04-12"`, `"12/04/2024"`, 1) },
		"missing":  func(s string) string { return strings.Replace(s, `"catalogVersion"`, `"catalogVersionX"`, 1) },
		"ransom":   func(s string) string { return strings.Replace(s, `"Known"`, `"Maybe"`, 1) },
		"not json": func(s string) string { return s[:100] },
	} {
		if _, err := ParseKEV(strings.NewReader(mutate(string(good)))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseEPSS(t *testing.T) {
	cases := []struct {
		file, model, date string
		pct               bool
		n                 int
	}{
		{"epss_scores-2021-04-14.csv.gz", "", "", false, 2},
		{"epss_scores-2021-09-01.csv.gz", "", "", true, 2},
		{"epss_scores-2022-02-04.csv.gz", "v2022.01.01", "2022-02-04", true, 2},
		{"epss_scores-2023-03-07.csv.gz", "v2023.03.01", "2023-03-07", true, 2},
		{"CVE_2024_EPSS_head.csv", "", "", true, 300},
	}
	for _, c := range cases {
		f, err := ParseEPSS(bytes.NewReader(readTestdata(t, "epss", c.file)))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if f.ModelVersion != c.model || len(f.Scores) != c.n || (c.date != "" && f.ScoreDate.Format("2006-01-02") != c.date) {
			t.Errorf("%s: model %q date %v rows %d", c.file, f.ModelVersion, f.ScoreDate, len(f.Scores))
		}
		if (f.Scores[0].Percentile >= 0) != c.pct {
			t.Errorf("%s: percentile %v", c.file, f.Scores[0].Percentile)
		}
	}
	f, _ := ParseEPSS(strings.NewReader("#model_version:v2025.03.14,score_date:2026-05-18T00:00:00Z\ncve,epss,percentile\nCVE-1999-0001,0.0046,0.7385\n"))
	if f.ModelVersion != "v2025.03.14" || f.ScoreDate.Day() != 18 || f.Scores[0].EPSS != 0.0046 {
		t.Errorf("Z layout: %+v", f)
	}
	for name, in := range map[string]string{
		"bad prob":   "cve,epss,percentile\nCVE-2020-1,1.5,0.2\n",
		"bad cve":    "cve,epss\nCVE-20-1,0.5\n",
		"bad header": "id,score\nCVE-2020-1234,0.5\n",
		"bad date":   "#model_version:v1,score_date:yesterday\ncve,epss\nCVE-2020-1234,0.5\n",
		"cols":       "cve,epss,percentile\nCVE-2020-1234,0.5\n",
		"empty":      "cve,epss,percentile\n",
		"text":       "hello world\n",
	} {
		if _, err := ParseEPSS(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseJVN(t *testing.T) {
	for _, f := range []string{"jvndb_2011.rdf", "jvndb_2023.rdf", "jvndb_new.rdf"} {
		ents, err := ParseJVNRSS(bytes.NewReader(readTestdata(t, "jvn", f)))
		if err != nil || len(ents) == 0 {
			t.Fatalf("%s: %v (%d)", f, err, len(ents))
		}
	}
	ents, _ := ParseJVNRSS(bytes.NewReader(readTestdata(t, "jvn", "jvndb_2023.rdf")))
	e := ents[0]
	if e.ID != "JVNDB-2022-017708" || len(e.CVEs) != 1 || e.CVEs[0] != "CVE-2023-23006" || e.CWEs[0] != "CWE-476" ||
		e.Products[0].CPE != "cpe:/o:linux:linux_kernel" || e.CVSS[0].Score != 5.5 || e.Published.IsZero() {
		t.Errorf("rss entry %+v", e)
	}
	det, err := ParseJVNDetail(bytes.NewReader(readTestdata(t, "jvn", "jvndb_detail_2021.rdf")))
	if err != nil {
		t.Fatal(err)
	}
	var log4j *JVNEntry
	for i := range det {
		if det[i].ID == "JVNDB-2021-005429" {
			log4j = &det[i]
		}
	}
	if log4j == nil || len(log4j.CVEs) != 1 || log4j.CVEs[0] != "CVE-2021-44228" || log4j.Products[0].Vendor != "Apache Software Foundation" || len(log4j.Products[0].Ranges) != 2 {
		t.Fatalf("log4j entry %+v", log4j)
	}
	r := log4j.Products[0].Ranges[0]
	if r.Start != "2.13.0" || !r.StartIncl || r.End != "2.15.0" || r.EndIncl {
		t.Errorf("range %+v", r)
	}
	rules := log4j.Rules(testReg)
	if res := match.Evaluate(rules, target("cpe:2.3:a:apache:log4j:2.14.1")); !res.Affected || res.Confidence != match.ConfidenceExact {
		t.Errorf("log4j 2.14.1 via JVN: %+v", res)
	}
	if res := match.Evaluate(rules, target("cpe:2.3:a:apache:log4j:2.15.0")); res.Affected {
		t.Errorf("log4j 2.15.0 via JVN: %+v", res)
	}
	if res := match.Evaluate(rules, target("cpe:2.3:a:nec:acos_access_toolkit:1.0")); !res.Affected || res.Confidence != match.ConfidenceProduct {
		t.Errorf("NEC product without versions: %+v", res)
	}
	if _, err := ParseJVNDetail(bytes.NewReader(readTestdata(t, "jvn", "jvndb_detail_2022.rdf"))); err != nil {
		t.Error(err)
	}
	for name, in := range map[string]string{
		"xxe":       `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><item><identifier>&e;</identifier></item></rdf:RDF>`,
		"bad id":    `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><item><identifier>JVNDB-1</identifier></item></rdf:RDF>`,
		"malformed": `<rdf:RDF><item>`,
		"wrong doc": `<html></html>`,
	} {
		if _, err := ParseJVNRSS(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestJVNVersionPhrases(t *testing.T) {
	cases := []struct {
		in   string
		want []match.VersionRange
		rest int
	}{
		{"1.5.62 未満", []match.VersionRange{{End: "1.5.62"}}, 0},
		{"7.3.7 より前のバージョン", []match.VersionRange{{End: "7.3.7"}}, 0},
		{"Ver.3.2.0 以前", []match.VersionRange{{End: "3.2.0", EndIncl: true}}, 0},
		{"1.0 およびそれ以前", []match.VersionRange{{End: "1.0", EndIncl: true}}, 0},
		{"2.0 以降", []match.VersionRange{{Start: "2.0", StartIncl: true}}, 0},
		{"2.0 より後", []match.VersionRange{{Start: "2.0"}}, 0},
		{"2.13.0 から 2.15.0 より前のバージョン", []match.VersionRange{{Start: "2.13.0", StartIncl: true, End: "2.15.0"}}, 0},
		{"2.0 から 2.5 まで", []match.VersionRange{{Start: "2.0", StartIncl: true, End: "2.5", EndIncl: true}}, 0},
		{"2.0～2.5", []match.VersionRange{{Start: "2.0", StartIncl: true, End: "2.5", EndIncl: true}}, 0},
		{"core 2.0-beta9 から 2.12.1 より前のバージョン", []match.VersionRange{{Qualifier: "core", Start: "2.0-beta9", StartIncl: true, End: "2.12.1"}}, 0},
		{"１．５．６２ 未満", []match.VersionRange{{End: "1.5.62"}}, 0},
		{"v1.2 及び v1.3", []match.VersionRange{{Exact: "1.2"}, {Exact: "1.3"}}, 0},
		{"3.0 未満、4.0 から 4.2.1 まで", []match.VersionRange{{End: "3.0"}, {Start: "4.0", StartIncl: true, End: "4.2.1", EndIncl: true}}, 0},
		{"13.0-47.24", []match.VersionRange{{Exact: "13.0-47.24"}}, 0},
		{"全てのバージョン", []match.VersionRange{{All: true}}, 0},
		{"ファームウェア 最新版より前", nil, 1},
	}
	for _, c := range cases {
		got, rest := match.ParseJVNVersions(c.in)
		for i := range got {
			got[i].Text = ""
		}
		if len(rest) != c.rest || len(got) != len(c.want) {
			t.Errorf("%q: got %+v rest %v", c.in, got, rest)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q: range %d = %+v, want %+v", c.in, i, got[i], c.want[i])
			}
		}
	}
}

func TestParseCSAF(t *testing.T) {
	d, err := ParseCSAF(bytes.NewReader(readTestdata(t, "csaf", "icsma-20-023-01.json")))
	if err != nil {
		t.Fatal(err)
	}
	p := d.Product("CSAFPID-0005")
	if p == nil || p.Vendor != "General Electric (GE)" || p.Product != "ApexPro Telemetry Server" || p.VersionRange != "<= 4.2" ||
		len(p.Ranges) != 1 || p.Ranges[0].End != "4.2" || !p.Ranges[0].EndIncl {
		t.Fatalf("product %+v", p)
	}
	if d.Status(0, "CSAFPID-0005") != "known_affected" {
		t.Error("status")
	}
	al := match.DefaultAliases()
	m := d.MatchAsset(0, al, testReg, "GE Healthcare", "ApexPro Telemetry Server", "", "4.1")
	if len(m) != 1 || m[0].Confidence != match.ConfidenceExact {
		t.Errorf("ApexPro 4.1: %+v", m)
	}
	if m := d.MatchAsset(0, al, testReg, "GE", "ApexPro Telemetry Server", "", "4.3"); len(m) != 0 {
		t.Errorf("ApexPro 4.3: %+v", m)
	}
	if m := d.MatchAsset(0, al, testReg, "GE", "ApexPro Telemetry Server", "", ""); len(m) != 1 || m[0].Confidence != match.ConfidenceProduct {
		t.Errorf("ApexPro unknown version: %+v", m)
	}
	if m := d.MatchAsset(0, al, testReg, "GE", "B450", "", "2.5"); len(m) != 1 || m[0].Confidence != match.ConfidenceExact {
		t.Errorf("B450 2.X family: %+v", m)
	}
	if m := d.MatchAsset(0, al, testReg, "Philips", "ApexPro Telemetry Server", "", "4.1"); len(m) != 0 {
		t.Errorf("other vendor: %+v", m)
	}
	vex, err := ParseCSAF(bytes.NewReader(readTestdata(t, "csaf", "va-24-201-01.json")))
	if err != nil {
		t.Fatal(err)
	}
	if got := vex.FixedVersions(0, "CSAFPID-0007"); len(got) != 1 || got[0] != "4.8.4" {
		t.Errorf("FixedVersions = %v", got)
	}
	if m := vex.MatchAsset(0, al, testReg, "AdminerEvo", "AdminerEvo", "", "4.8.4"); len(m) != 0 {
		t.Errorf("fixed release matched: %+v", m)
	}
	if m := vex.MatchAsset(0, al, testReg, "AdminerEvo", "AdminerEvo", "", "4.8.3"); len(m) == 0 {
		t.Error("affected release not matched")
	}
	if _, err := ParseCSAF(bytes.NewReader(readTestdata(t, "csaf", "icsma-17-017-02.json"))); err != nil {
		t.Error(err)
	}
	good := string(readTestdata(t, "csaf", "icsma-20-023-01.json"))
	for name, mutate := range map[string]func(string) string{
		"version":   func(s string) string { return strings.Replace(s, `"csaf_version": "2.0"`, `"csaf_version": "1.2"`, 1) },
		"status":    func(s string) string { return strings.Replace(s, `"status": "final"`, `"status": "done"`, 1) },
		"publisher": func(s string) string { return strings.Replace(s, `"category": "coordinator"`, `"category": "boss"`, 1) },
		"undefined id": func(s string) string {
			return strings.Replace(s, `"known_affected": [`, `"known_affected": ["CSAFPID-9999", `, 1)
		},
		"duplicate id": func(s string) string { return strings.Replace(s, `"CSAFPID-0002"`, `"CSAFPID-0001"`, 1) },
		"branch cat": func(s string) string {
			return strings.Replace(s, `"category": "product_name"`, `"category": "model"`, 1)
		},
		"no title": func(s string) string {
			return strings.Replace(s, `"title": "GE CARESCAPE`, `"titlex": "GE CARESCAPE`, 1)
		},
		"bad cve":     func(s string) string { return strings.Replace(s, `"cve": "CVE-`, `"cve": "CVE`, 1) },
		"no tracking": func(s string) string { return strings.Replace(s, `"tracking"`, `"trackingx"`, 1) },
		"truncated":   func(s string) string { return s[:len(s)/2] },
	} {
		if _, err := ParseCSAF(strings.NewReader(mutate(good))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseFortinet(t *testing.T) {
	a, err := ParseFortinet(bytes.NewReader(readTestdata(t, "fortinet", "FG-IR-22-398.json")))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != "FG-IR-22-398" || a.CVEs()[0] != "CVE-2022-42475" || a.Published.Year() != 2022 {
		t.Errorf("%+v", a.ID)
	}
	rules := a.Rules(testReg)["CVE-2022-42475"]
	if res := match.Evaluate(rules, target("cpe:2.3:o:fortinet:fortios:7.2.2")); !res.Affected || res.Confidence != match.ConfidenceExact {
		t.Errorf("7.2.2: %+v", res)
	}
	if res := match.Evaluate(rules, target("cpe:2.3:o:fortinet:fortios:7.2.3")); res.Affected {
		t.Errorf("7.2.3: %+v", res)
	}
	e, err := ParseFortinet(bytes.NewReader(readTestdata(t, "fortinet", "FG-IR-23-344.json")))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.Rules(testReg)["CVE-2025-22855"]; !r.Pending {
		t.Error("empty configurations should give pending rules")
	}
	n, err := ParseFortinet(bytes.NewReader(readTestdata(t, "fortinet", "FG-IR-19-104.json")))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range n.Rules(testReg) {
		res := match.Evaluate(r, target("cpe:2.3:a:fortinet:fortiauthenticator:6.0.1", "cpe:2.3:o:fortinet:fortiauthenticator:6.0.1", "cpe:2.3:h:fortinet:fortiauthenticator-3000e:-"))
		if !res.Affected || res.Confidence != match.ConfidenceProduct {
			t.Errorf("nested children, no versions: %+v", res)
		}
	}
	for name, in := range map[string]string{
		"bad id":   `{"id":"FG-18-384","vulnerabilities":[]}`,
		"bad cve":  `{"id":"FG-IR-18-384","vulnerabilities":[{"id":"FG-IR-18-384","cve":"CVE-18"}]}`,
		"bad cpe":  `{"id":"FG-IR-18-384","vulnerabilities":[{"id":"x","definitions":[{"configurations":[{"nodes":[{"cpe":"cpe:2.3:q"}]}]}]}]}`,
		"no vulns": `{"id":"FG-IR-18-384"}`,
		"not json": `{`,
	} {
		if _, err := ParseFortinet(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	page := nvdPage(readTestdata(t, "nvd", "CVE-2022-42475.json"))
	cases := []struct {
		name string
		head []byte
		want Format
	}{
		{"CVE-2022-42475.json", readTestdata(t, "nvd", "CVE-2022-42475.json"), FormatNVD},
		{"nvdcve-2.0-2024.json.gz", testkit.Gzip(page), FormatNVD},
		{"nvdcve-2.0-recent.json.xz", xzBytes(t, page), FormatNVD},
		{"CVE-2022.json.xz", xzBytes(t, []byte(`{"timestamp":"2026-01-01T00:00:00","cve_count":1,"feed_name":"CVE-2022","source":"x","cve_items":[`+string(readTestdata(t, "nvd", "CVE-2022-42475.json"))+`]}`)), FormatNVD},
		{"known_exploited_vulnerabilities.json", readTestdata(t, "kev", "kev_trimmed.json"), FormatKEV},
		{"epss_scores-2023-03-07.csv.gz", readTestdata(t, "epss", "epss_scores-2023-03-07.csv.gz"), FormatEPSS},
		{"epss_scores-2021-04-14.csv.gz", readTestdata(t, "epss", "epss_scores-2021-04-14.csv.gz"), FormatEPSS},
		{"CVE_2024_EPSS.csv", readTestdata(t, "epss", "CVE_2024_EPSS_head.csv"), FormatEPSS},
		{"jvndb_2023.rdf", readTestdata(t, "jvn", "jvndb_2023.rdf"), FormatJVNRSS},
		{"jvndb_detail_2021.rdf", readTestdata(t, "jvn", "jvndb_detail_2021.rdf"), FormatJVNVULDEF},
		{"myjvn_product_202311.rdf", readTestdata(t, "jvn", "myjvn_product_202311.rdf"), FormatMyJVNProds},
		{"checksum_rss.txt", readTestdata(t, "jvn", "checksum_rss.txt"), FormatJVNChecksum},
		{"icsma-20-023-01.json", readTestdata(t, "csaf", "icsma-20-023-01.json"), FormatCSAF},
		{"va-24-201-01.json", readTestdata(t, "csaf", "va-24-201-01.json"), FormatCSAF},
		{"FG-IR-22-398.json", readTestdata(t, "fortinet", "FG-IR-22-398.json"), FormatFortinet},
		{"notes.txt", []byte("hello"), FormatUnknown},
		{"empty", nil, FormatUnknown},
		{"x.json", []byte(`{"a":1}`), FormatUnknown},
	}
	for _, c := range cases {
		head := c.head
		if len(head) > 4096 {
			head = head[:4096]
		}
		if got := DetectFormat(c.name, head); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
