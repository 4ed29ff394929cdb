package vuln

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/share"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/vuln/feed"
	"github.com/medisac/medisac/internal/vuln/match"
)

func TestMain(m *testing.M) {
	if os.Getenv(importChildEnv) != "" {
		// The child process of TestImportKilled: it imports and is killed.
		os.Exit(importChild())
	}
	os.Exit(dbtest.Main(m))
}

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock = testkit.Clock

func newOrg(t testing.TB, d *db.DB, name, pref string) string {
	t.Helper()
	id := db.NewID()
	if _, err := d.Exec(context.Background(), "INSERT INTO organizations (id, kind, name, prefecture, created_at, updated_at) VALUES (?, 'hospital', ?, ?, ?, ?)",
		id, name, pref, t0, t0); err != nil {
		t.Fatal(err)
	}
	return id
}

func newWatch(d *db.DB, c *clock) *Watch {
	return &Watch{DB: d, Now: c.Now, BaseURL: "https://medisac.example.jp", BatchSize: 7}
}

// eachWatch runs fn on both databases with a watch on a test clock
// starting at t0.
func eachWatch(t *testing.T, fn func(t *testing.T, d *db.DB, c *clock, w *Watch)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := testkit.NewClock(t0)
		fn(t, d, c, newWatch(d, c))
	})
}

func importFiles(t testing.TB, w *Watch, paths ...string) []ImportResult {
	t.Helper()
	var out []ImportResult
	for _, p := range paths {
		res, err := w.ImportFile(context.Background(), p)
		if err != nil {
			t.Fatalf("import %s: %v", p, err)
		}
		out = append(out, res)
	}
	return out
}

func td(parts ...string) string { return filepath.Join(append([]string{"testdata"}, parts...)...) }

func mustAsset(t testing.TB, d *db.DB, org string, a inventory.Asset) inventory.Asset {
	t.Helper()
	out, err := inventory.CreateAsset(context.Background(), d, org, "", a, t0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func findingsOf(t testing.TB, d *db.DB, org string, all bool) map[string]Finding {
	t.Helper()
	fs, err := ListFindings(context.Background(), d, org, FindingFilter{All: all})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Finding{}
	for _, f := range fs {
		out[f.AssetName+" "+f.VulnID] = f
	}
	return out
}

func TestImportEveryFormat(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		cases := []struct {
			path    string
			format  feed.Format
			records int
		}{
			{td("nvd", "CVE-2022-42475.json"), feed.FormatNVD, 1},
			{td("kev", "kev_trimmed.json"), feed.FormatKEV, 20},
			{td("epss", "epss_scores-2023-03-07.csv.gz"), feed.FormatEPSS, 2},
			{td("jvn", "jvndb_detail_2022.rdf"), feed.FormatJVNVULDEF, -1},
			{td("jvn", "jvndb_2023.rdf"), feed.FormatJVNRSS, -1},
			{td("csaf", "icsma-20-023-01.json"), feed.FormatCSAF, -1},
			{td("fortinet", "FG-IR-22-398.json"), feed.FormatFortinet, 1},
		}
		for _, tc := range cases {
			c.Advance(time.Second)
			res, err := w.ImportFile(ctx, tc.path)
			if err != nil {
				t.Fatalf("%s: %v", tc.path, err)
			}
			if res.Format != tc.format || (tc.records >= 0 && res.Records != tc.records) || res.Records == 0 {
				t.Errorf("%s: %+v", tc.path, res)
			}
		}
		v, err := GetVuln(ctx, d, "CVE-2022-42475")
		if err != nil {
			t.Fatal(err)
		}
		if v.CVSS < 9 || v.Severity != "CRITICAL" || !strings.Contains(v.Description, "FortiOS") {
			t.Errorf("NVD fields: %+v", v)
		}
		if !containsRef(v.Refs, "FG-IR-22-398") || len(v.FixedVersion) == 0 {
			t.Errorf("cross links / fixed: %+v %v", v.Refs, v.FixedVersion)
		}
		if got, err := GetVuln(ctx, d, "FG-IR-22-398"); err != nil || got.ID != "CVE-2022-42475" {
			t.Errorf("lookup by advisory id: %v %v", got.ID, err)
		}
		// Re-importing the same file changes nothing.
		c.Advance(time.Second)
		res := importFiles(t, w, td("nvd", "CVE-2022-42475.json"))[0]
		if res.Changed != 0 {
			t.Errorf("re-import changed %d", res.Changed)
		}
	})
}

func containsRef(rs []Ref, id string) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}

func TestBadFileKeepsData(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		importFiles(t, w, td("nvd", "CVE-2022-42475.json"))
		good, err := os.ReadFile(td("nvd", "CVE-2018-13379.json"))
		if err != nil {
			t.Fatal(err)
		}
		// An API page whose second record has a broken id: the whole page is
		// refused, the first record is not stored either.
		page := `{"resultsPerPage":2,"startIndex":0,"totalResults":2,"format":"NVD_CVE","version":"2.0","timestamp":"2024-01-01T00:00:00.000",
			"vulnerabilities":[{"cve":` + string(good) + `},{"cve":{"id":"CVE-BAD","sourceIdentifier":"x","vulnStatus":"Analyzed","published":"2024-01-01T00:00:00.000","lastModified":"2024-01-01T00:00:00.000","descriptions":[],"metrics":{}}}]}`
		for _, bad := range []struct{ name, body, key string }{
			{"page.json", page, "vuln.feed.bad_cve_id"},
			{"x.json", `{"not":"a feed"}`, "vuln.feed.unknown_format"},
			{"trunc.json", `{"resultsPerPage":1,"startIndex":0,"totalResults":1,"vulnerabilities":[{"cve":{"id":"CVE-2024-0001"`, ""},
		} {
			c.Advance(time.Second)
			_, err := w.Import(ctx, bad.name, strings.NewReader(bad.body))
			if err == nil {
				t.Fatalf("%s accepted", bad.name)
			}
			if bad.key != "" && apperr.From(err).Key != bad.key {
				t.Errorf("%s: key %q (%v)", bad.name, apperr.From(err).Key, err)
			}
		}
		if _, err := GetVuln(ctx, d, "CVE-2018-13379"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("record of a refused file stored: %v", err)
		}
		if _, err := GetVuln(ctx, d, "CVE-2022-42475"); err != nil {
			t.Errorf("held data lost: %v", err)
		}
		logs, err := RecentImports(ctx, d, 10)
		if err != nil || len(logs) != 4 || logs[0].OK || !logs[3].OK {
			t.Errorf("import log: %+v %v", logs, err)
		}
	})
}

func TestFindingsLifecycle(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		org := newOrg(t, d, "A病院", "東京都")
		other := newOrg(t, d, "B医院", "大阪府")
		vendor, err := inventory.CreateVendor(ctx, d, org, inventory.Vendor{Name: "○○保守", Phone: "03-1234-5678"}, t0)
		if err != nil {
			t.Fatal(err)
		}
		_ = vendor
		vpn := mustAsset(t, d, org, inventory.Asset{Name: "正面玄関FW", Kind: inventory.KindNetwork, Vendor: "フォーティネット", Product: "FortiGate",
			Model: "FG-60F", Version: "7.2.2", Location: "本館1階", Maintainer: "○○保守"})
		unknown := mustAsset(t, d, org, inventory.Asset{Name: "別棟FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate"})
		fixed := mustAsset(t, d, org, inventory.Asset{Name: "新FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.5"})
		theirs := mustAsset(t, d, other, inventory.Asset{Name: "FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.0.1"})
		if _, err := inventory.CreateConnection(ctx, d, org, inventory.Connection{Name: "SSL-VPN", Type: inventory.ConnSSLVPN, AssetID: vpn.ID}, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		importFiles(t, w, td("kev", "kev_trimmed.json"), td("nvd", "CVE-2022-42475.json"))
		fs := findingsOf(t, d, org, false)
		f, ok := fs["正面玄関FW CVE-2022-42475"]
		if !ok {
			t.Fatalf("no finding for the VPN device: %v", keys(fs))
		}
		if f.Confidence != "exact" || !f.External || !f.KEV || f.Priority != PriorityNow || !strings.Contains(strings.Join(f.Fixed, " "), "7.2.3") {
			t.Errorf("VPN finding: %+v", f)
		}
		if u, ok := fs["別棟FW CVE-2022-42475"]; !ok || u.Confidence != "product" || len(u.Reasons) == 0 {
			t.Errorf("version unknown must be 要確認: %+v", u)
		}
		if _, ok := fs["新FW CVE-2022-42475"]; ok {
			t.Error("fixed version matched")
		}
		if _, ok := findingsOf(t, d, other, false)["FW CVE-2022-42475"]; !ok {
			t.Error("other organisation's device not matched")
		}
		a, err := inventory.GetAsset(ctx, d, org, vpn.ID)
		if err != nil || !a.Vulnerable {
			t.Errorf("vulnerable flag not set: %v", err)
		}
		// One grouped notification per organisation and import.
		ns, err := ListNotifications(ctx, d, org, 10)
		if err != nil || len(ns) != 2 || ns[0].TopPriority != PriorityNow {
			t.Fatalf("notifications: %d %v", len(ns), err)
		}
		for _, want := range []string{"正面玄関FW", "本館1階", "7.2.3", "○○保守", "03-1234-5678", "要確認"} {
			if !strings.Contains(ns[0].Body, want) {
				t.Errorf("alert lacks %q:\n%s", want, ns[0].Body)
			}
		}
		// Re-running matching sends nothing new.
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		if ns, _ := ListNotifications(ctx, d, org, 10); len(ns) != 2 {
			t.Errorf("repeated alert: %d", len(ns))
		}
		// Remediation states.
		c.Advance(time.Minute)
		if _, _, err := SetRemediation(ctx, d, org, "u1", f.ID, Remediation{State: StateAccepted, Reason: "更新予定"}, c.Now()); apperr.From(err).Field != "review_on" {
			t.Errorf("accepted without review date: %v", err)
		}
		if _, _, err := SetRemediation(ctx, d, other, "u1", f.ID, Remediation{State: StateInProgress}, c.Now()); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("other tenant changed a finding: %v", err)
		}
		_, after, err := SetRemediation(ctx, d, org, "u1", f.ID, Remediation{State: StateInProgress}, c.Now())
		if err != nil || after.State != StateInProgress {
			t.Fatalf("in progress: %+v %v", after, err)
		}
		// Updating the device to the fixed version closes the finding.
		c.Advance(time.Minute)
		vpn.Version = "7.2.5"
		if _, _, err := inventory.UpdateAsset(ctx, d, org, "", vpn, c.Now()); err != nil {
			t.Fatal(err)
		}
		st, err := w.MatchAssets(ctx, "", nil)
		if err != nil || st.Closed != 1 {
			t.Fatalf("re-match: %+v %v", st, err)
		}
		got, err := GetFinding(ctx, d, org, f.ID)
		if err != nil || got.Active || got.State != StateResolved || got.ClosedReason != "no_longer_affected" {
			t.Errorf("closed finding: %+v %v", got, err)
		}
		left, _ := ListFindings(ctx, d, org, FindingFilter{AssetID: vpn.ID})
		if a, _ := inventory.GetAsset(ctx, d, org, vpn.ID); a.Vulnerable != (len(left) > 0) {
			t.Errorf("vulnerable flag %v with %d open findings", a.Vulnerable, len(left))
		}
		// Checker for the sharing hub.
		res, err := Checker{}.Affected(ctx, d, org, []string{"CVE-2022-42475"})
		if err != nil || res.State != share.AffectedYes || len(res.Assets) != 1 || res.Assets[0] != unknown.Name {
			t.Errorf("checker: %+v %v", res, err)
		}
		if res, _ := (Checker{}).Affected(ctx, d, org, []string{"CVE-2099-0001"}); res.State != share.AffectedNo {
			t.Errorf("checker unrelated CVE: %+v", res)
		}
		if got, err := (Checker{}).OrgsAffected(ctx, d, []string{org, other, newOrg(t, d, "C", "")}, []string{"cve-2022-42475"}); err != nil || len(got) != 2 {
			t.Errorf("organisations affected: %v %v", got, err)
		}
		_, _ = fixed, theirs
		// A rejected CVE withdraws its findings.
		rec, err := os.ReadFile(td("nvd", "CVE-2022-42475.json"))
		if err != nil {
			t.Fatal(err)
		}
		rej := bytes.Replace(rec, []byte(`"vulnStatus": "`), []byte(`"vulnStatus": "Rejected", "x": "`), 1)
		rej = bytes.Replace(rej, []byte(`"lastModified": "`), []byte(`"lastModified": "2030-01-01T00:00:00.000", "y": "`), 1)
		c.Advance(time.Minute)
		if _, err := w.Import(ctx, "rejected.json", bytes.NewReader(rej)); err != nil {
			t.Fatal(err)
		}
		if _, ok := findingsOf(t, d, other, false)["FW CVE-2022-42475"]; ok {
			t.Error("withdrawn CVE still has findings")
		}
		if f, ok := findingsOf(t, d, other, true)["FW CVE-2022-42475"]; !ok || f.ClosedReason != "withdrawn" {
			t.Errorf("withdrawn finding: %+v", f)
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPriorityRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   PriorityInput
		want int
	}{
		{"KEV on VPN device", PriorityInput{KEV: true, External: true, VPN: true}, PriorityNow},
		{"KEV on internet-exposed server", PriorityInput{KEV: true, Exposed: true}, PriorityNow},
		{"KEV inside", PriorityInput{KEV: true, CVSS: 9.8}, PriorityUrgent},
		{"critical on edge", PriorityInput{CVSS: 9.1, External: true}, PriorityUrgent},
		{"likely exploited on edge", PriorityInput{EPSS: 0.6, Exposed: true}, PriorityUrgent},
		{"high inside", PriorityInput{CVSS: 7.5}, PrioritySoon},
		{"medium on edge", PriorityInput{CVSS: 5, External: true}, PrioritySoon},
		{"medium inside", PriorityInput{CVSS: 5, EPSS: 0.01}, PriorityPlanned},
	} {
		if got, _ := Priority(tc.in); got != tc.want {
			t.Errorf("%s: priority %d, want %d", tc.name, got, tc.want)
		}
	}
	_, vpn := Priority(PriorityInput{KEV: true, External: true, VPN: true})
	_, fw := Priority(PriorityInput{KEV: true, External: true, Ransomware: true, CVSS: 9.8})
	if vpn >= fw {
		t.Errorf("VPN device must rank first: %d vs %d", vpn, fw)
	}
}

// TestProductOnlySourcesYield checks how sources combine: a source naming
// the product without versions (JVN text, KEV) reaches a device as 要確認
// only while no source has version data, so a device past the fixed
// version is not kept open by it.
func TestProductOnlySourcesYield(t *testing.T) {
	eachWatch(t, func(t *testing.T, d *db.DB, c *clock, w *Watch) {
		ctx := context.Background()
		org := newOrg(t, d, "A病院", "東京都")
		mustAsset(t, d, org, inventory.Asset{Name: "新FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.5"})
		mustAsset(t, d, org, inventory.Asset{Name: "古FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.1"})
		mustAsset(t, d, org, inventory.Asset{Name: "不明FW", Kind: inventory.KindNetwork, Vendor: "Fortinet", Product: "FortiGate"})
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		po, err := match.NewCriterion(testReg, "cpe:2.3:*:fortinet:fortios:*", true, "", "", "", "")
		if err != nil {
			t.Fatal(err)
		}
		po.ProductOnly = true
		ranged, err := match.NewCriterion(testReg, "cpe:2.3:o:fortinet:fortios:*", true, "7.2.0", "", "", "7.2.3")
		if err != nil {
			t.Fatal(err)
		}
		put := func(source string, cr *match.Criterion) {
			c.Advance(time.Second)
			err := d.InTx(ctx, func(tx *db.Tx) error {
				im := w.newImporter(tx, c.Now(), stubTail)
				if err := im.vulns.add(ctx, "CVE-2099-0001", "CVE-2099-0001", "test", "", "", "", "", false, nil, nil, 9.8, "3.1", "CRITICAL", "", "", c.Now()); err != nil {
					return err
				}
				if err := im.rule(ctx, "CVE-2099-0001", source, "x", (&match.Rules{Source: source, Configs: []match.Config{{Nodes: []match.Node{{Operator: "OR", Criteria: []*match.Criterion{cr}}}}}}).Prepare()); err != nil {
					return err
				}
				return im.flush(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.MatchChanged(ctx, c.Now()); err != nil {
				t.Fatal(err)
			}
		}
		put("jvn", po)
		fs := findingsOf(t, d, org, false)
		if len(fs) != 3 || fs["新FW CVE-2099-0001"].Confidence != "product" {
			t.Fatalf("product-only source alone: %v", keys(fs))
		}
		put("nvd", ranged)
		fs = findingsOf(t, d, org, false)
		if _, ok := fs["新FW CVE-2099-0001"]; ok {
			t.Error("fixed device kept open by a product-only source")
		}
		if f, ok := fs["古FW CVE-2099-0001"]; !ok || f.Confidence != "exact" || strings.Join(f.Sources, " ") != "nvd" {
			t.Errorf("affected device: %+v", f)
		}
		if f, ok := fs["不明FW CVE-2099-0001"]; !ok || f.Confidence != "product" {
			t.Errorf("device without version: %+v", f)
		}
	})
}
