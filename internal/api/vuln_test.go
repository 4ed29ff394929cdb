package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/vuln"
)

type vulnA struct{ asset, finding string }

// seedVulnA gives organisation A a FortiGate affected by CVE-2022-42475.
func seedVulnA(f *fixture) vulnA {
	ctx := context.Background()
	as, err := inventory.CreateAsset(ctx, f.d, f.orgA.ID, "", inventory.Asset{Name: "A秘密FortiGate", Kind: inventory.KindNetwork,
		Vendor: "Fortinet", Product: "FortiGate", Version: "7.2.2"}, f.clock.Now())
	if err != nil {
		panic(err)
	}
	w := &vuln.Watch{DB: f.d, Now: f.clock.Now, Catalog: f.cat}
	if _, err := w.MatchAll(ctx); err != nil {
		panic(err)
	}
	if _, err := w.ImportFile(ctx, "../vuln/testdata/nvd/CVE-2022-42475.json"); err != nil {
		panic(err)
	}
	fs, err := vuln.ListFindings(ctx, f.d, f.orgA.ID, vuln.FindingFilter{})
	if err != nil || len(fs) != 1 {
		panic("no finding for A")
	}
	f.secretsA = append(f.secretsA, as.ID, "A秘密FortiGate", fs[0].ID)
	return vulnA{asset: as.ID, finding: fs[0].ID}
}

func vulnIsolationCases(f *fixture) map[string][]isoCase {
	ids := seedVulnA(f)
	a, b := "/api/v1/orgs/"+f.orgA.ID+"/vuln", "/api/v1/orgs/"+f.orgB.ID+"/vuln"
	c := map[string][]isoCase{}
	add := func(method, pattern string, cs ...isoCase) {
		c[method+" "+pattern] = append(c[method+" "+pattern], cs...)
	}
	add("GET", vulnBase+"/findings",
		isoCase{name: "A's", path: a + "/findings"},
		isoCase{name: "own filtered on A's device", path: b + "/findings?all=1&asset_id=" + ids.asset + "&vuln_id=CVE-2022-42475", collection: true})
	for _, m := range []string{"GET", "PATCH"} {
		body := ""
		if m == "PATCH" {
			body = `{"state":"resolved"}`
		}
		add(m, vulnBase+"/findings/{rec}",
			isoCase{name: "A's in A", path: a + "/findings/" + ids.finding, body: body},
			isoCase{name: "A's via B", path: b + "/findings/" + ids.finding, body: body})
	}
	add("GET", vulnBase+"/summary", isoCase{name: "A's", path: a + "/summary"}, isoCase{name: "own", path: b + "/summary", collection: true})
	add("GET", vulnBase+"/notifications", isoCase{name: "A's", path: a + "/notifications"}, isoCase{name: "own", path: b + "/notifications", collection: true})
	for _, m := range []string{"GET", "PUT"} {
		body := ""
		if m == "PUT" {
			body = `{"cpe":["cpe:2.3:o:fortinet:fortios:7.2.5"]}`
		}
		add(m, vulnBase+"/assets/{rec}/identity",
			isoCase{name: "A's in A", path: a + "/assets/" + ids.asset + "/identity", body: body},
			isoCase{name: "A's via B", path: b + "/assets/" + ids.asset + "/identity", body: body})
	}
	add("GET", "/api/v1/vulns", isoCase{name: "search A's device", path: "/api/v1/vulns?q=FortiGate", collection: true})
	add("GET", "/api/v1/vulns/{vuln}", isoCase{name: "shared data", path: "/api/v1/vulns/CVE-2022-42475", collection: true})
	add("GET", "/api/v1/vulns/{vuln}/isac", isoCase{name: "not an operator", path: "/api/v1/vulns/CVE-2022-42475/isac", collection: true, status: http.StatusForbidden})
	return c
}

func TestVulnAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ids := seedVulnA(f)
		base := "/api/v1/orgs/" + f.orgA.ID + "/vuln"
		rec := f.do(t, "GET", base+"/findings", f.staffA.read, "")
		list := decodeBody[findingList](t, rec)
		if rec.Code != 200 || len(list.Findings) != 1 || list.Findings[0].Priority == 0 || list.Findings[0].Confidence != "exact" {
			t.Fatalf("findings: %d %+v", rec.Code, list)
		}
		if rec := f.do(t, "GET", base+"/findings?priority=9", f.staffA.read, ""); rec.Code != http.StatusBadRequest {
			t.Errorf("bad priority: %d", rec.Code)
		}
		if rec := f.do(t, "PATCH", base+"/findings/"+ids.finding, f.staffA.read, `{"state":"in_progress"}`); rec.Code != http.StatusForbidden {
			t.Errorf("read-only token changed a finding: %d", rec.Code)
		}
		if rec := f.do(t, "PATCH", base+"/findings/"+ids.finding, f.staffA.write, `{"state":"not_applicable"}`); rec.Code != http.StatusBadRequest {
			t.Errorf("not applicable without reason: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "PATCH", base+"/findings/"+ids.finding, f.staffA.write, `{"state":"in_progress"}`)
		if got := decodeBody[vuln.Finding](t, rec); rec.Code != 200 || got.State != vuln.StateInProgress {
			t.Fatalf("remediate: %d %+v", rec.Code, got)
		}
		rec = f.do(t, "GET", base+"/assets/"+ids.asset+"/identity", f.staffA.read, "")
		if idn := decodeBody[vuln.AssetIdentity](t, rec); len(idn.Candidates) == 0 || !strings.Contains(idn.Candidates[0].CPE, "fortios:7.2.2") {
			t.Errorf("identity: %+v", idn)
		}
		rec = f.do(t, "PUT", base+"/assets/"+ids.asset+"/identity", f.staffA.write, `{"cpe":["cpe:2.3:o:fortinet:fortios:7.2.5"]}`)
		if rec.Code != 200 {
			t.Fatalf("set identity: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", base+"/summary", f.staffA.read, "")
		if s := decodeBody[vuln.Summary](t, rec); s.Open+s.InProgress != 0 {
			t.Errorf("corrected device still has findings: %+v", s)
		}
		rec = f.do(t, "GET", "/api/v1/vulns/FG-IR-22-398", f.staffA.read, "")
		if rec.Code != http.StatusNotFound {
			t.Errorf("advisory not imported yet: %d", rec.Code)
		}
		rec = f.do(t, "GET", "/api/v1/vulns/CVE-2022-42475/isac", f.op.read, "")
		if st := decodeBody[vuln.ISACStats](t, rec); rec.Code != 200 || !st.Hidden {
			t.Errorf("ISAC stats for one organisation must be hidden: %d %+v", rec.Code, st)
		}
	})
}
