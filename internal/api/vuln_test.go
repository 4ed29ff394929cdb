package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/testkit/seed"
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

// seedFindings gives org n synthetic findings on a few devices, every
// priority, many tied on priority and rank.
func seedFindings(t testing.TB, f *fixture, org string, n int) {
	t.Helper()
	assets := seed.Devices(t, f.d, org, "機器%d", inventory.KindNetwork, 5, f.clock.Now())
	seed.Findings(t, f.d, org, assets, n, f.clock.Now(), func(i int) seed.Finding {
		return seed.Finding{Active: true, Priority: 1 + i%4, Rank: 1000 * (i % 3)}
	})
}

func TestVulnFindingsPaging(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		seedFindings(t, f, f.orgA.ID, 1200)
		seedFindings(t, f, f.orgB.ID, 30)
		base := "/api/v1/orgs/" + f.orgA.ID + "/vuln/findings"
		walk := func(query string) ([]vuln.Finding, int) {
			t.Helper()
			var all []vuln.Finding
			pages, cursor := 0, ""
			for {
				path := base + "?" + query
				if cursor != "" {
					path += "&cursor=" + url.QueryEscape(cursor)
				}
				rec := f.do(t, "GET", path, f.staffA.read, "")
				if rec.Code != http.StatusOK {
					t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
				}
				l := decodeBody[findingList](t, rec)
				pages++
				if l.Total != 1200 && query == "limit=250" {
					t.Errorf("total %d", l.Total)
				}
				all = append(all, l.Findings...)
				if l.NextCursor == "" {
					return all, pages
				}
				cursor = l.NextCursor
			}
		}
		all, pages := walk("limit=250")
		seen := map[string]bool{}
		for i, fd := range all {
			if seen[fd.ID] {
				t.Fatalf("finding %s twice", fd.ID)
			}
			seen[fd.ID] = true
			if i > 0 && all[i-1].Priority > fd.Priority {
				t.Fatalf("order broken at %d", i)
			}
		}
		if len(all) != 1200 || pages != 5 {
			t.Errorf("%d findings in %d pages", len(all), pages)
		}
		p2, _ := walk("priority=2&limit=1000")
		for _, fd := range p2 {
			if fd.Priority != 2 {
				t.Fatalf("priority filter lost: %+v", fd)
			}
		}
		if len(p2) != 300 {
			t.Errorf("priority 2: %d", len(p2))
		}
		rec := f.do(t, "GET", base, f.staffA.read, "")
		if l := decodeBody[findingList](t, rec); len(l.Findings) != vuln.DefaultFindingPage || l.Total != 1200 || l.NextCursor == "" {
			t.Errorf("default page: %d findings, total %d", len(l.Findings), l.Total)
		}
		first := decodeBody[findingList](t, f.do(t, "GET", base+"?limit=10", f.staffA.read, ""))
		cases := []struct {
			name, query, field, message string
		}{
			{"zero limit", "limit=0", "limit", "limit（1ページの件数）は1から1000まで"},
			{"limit too big", "limit=1001", "limit", "1から1000まで"},
			{"limit not a number", "limit=ten", "limit", "1から1000まで"},
			{"garbage cursor", "cursor=garbage", "cursor", "ページの指定が読み取れませんでした"},
			{"cut cursor", "cursor=" + first.NextCursor[:20], "cursor", "ページの指定が読み取れませんでした"},
			{"cursor of another filter", "priority=1&cursor=" + first.NextCursor, "cursor", "表示の条件が変わったため"},
		}
		for _, tc := range cases {
			rec := f.do(t, "GET", base+"?"+tc.query, f.staffA.read, "")
			body := decodeBody[errorBody](t, rec)
			if rec.Code != http.StatusBadRequest || body.Error.Code != "invalid" || body.Error.Field != tc.field || !strings.Contains(body.Error.Message, tc.message) {
				t.Errorf("%s: %d %+v", tc.name, rec.Code, body)
			}
		}
		rec = f.do(t, "GET", base+"?limit=0", f.adminA.read, "")
		if body := decodeBody[errorBody](t, rec); !strings.Contains(body.Error.Message, "limit (findings per page) must be a number from 1 to 1000") {
			t.Errorf("english: %+v", body)
		}
		// A's cursor used on B's list reads B's findings only.
		rec = f.do(t, "GET", "/api/v1/orgs/"+f.orgB.ID+"/vuln/findings?limit=10&cursor="+first.NextCursor, f.staffB.read, "")
		if l := decodeBody[findingList](t, rec); rec.Code != 200 || l.Total != 30 {
			t.Errorf("B with A's cursor: %d total %d", rec.Code, l.Total)
		}
		for _, fd := range decodeBody[findingList](t, rec).Findings {
			if seen[fd.ID] {
				t.Fatalf("B sees A's finding %s", fd.ID)
			}
		}
	})
}

// TestVulnIdentityJob: with a queue, correcting a device's identity
// enqueues its re-match in the same transaction and returns; running the
// queue then matches the device and writes the alert.
func TestVulnIdentityJob(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		q := jobs.New(d, f.clock.Now, f.quietLogger)
		f.api.Queue = q
		w := &vuln.Watch{DB: d, Queue: q, Now: f.clock.Now, Catalog: f.cat, Logger: f.quietLogger, Audit: f.log}
		w.Register()
		f.api.Vuln = w
		as, err := inventory.CreateAsset(ctx, d, f.orgA.ID, "", inventory.Asset{Name: "A玄関ルーター", Kind: inventory.KindNetwork, Vendor: "Example", Product: "Box"}, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.MatchAll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ImportFile(ctx, "../vuln/testdata/nvd/CVE-2022-42475.json"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := q.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		base := "/api/v1/orgs/" + f.orgA.ID + "/vuln"
		summary := func() vuln.Summary {
			return decodeBody[vuln.Summary](t, f.do(t, "GET", base+"/summary", f.staffA.read, ""))
		}
		if s := summary(); s.Open != 0 {
			t.Fatalf("unknown product matched: %+v", s)
		}
		rec := f.do(t, "PUT", base+"/assets/"+as.ID+"/identity", f.staffA.write, `{"cpe":["cpe:2.3:o:fortinet:fortios:7.2.2"]}`)
		if idn := decodeBody[vuln.AssetIdentity](t, rec); rec.Code != 200 || len(idn.Override) != 1 {
			t.Fatalf("set identity: %d %s", rec.Code, rec.Body)
		}
		js, err := q.List(ctx, jobs.Filter{Kind: vuln.JobMatchAssets})
		if err != nil || len(js) != 1 || js[0].State != jobs.Queued || !strings.Contains(string(js[0].Payload), as.ID) {
			t.Fatalf("re-match job: %+v %v", js, err)
		}
		if s := summary(); s.Open != 0 {
			t.Errorf("matched inside the request: %+v", s)
		}
		for range 3 {
			if _, err := q.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if s := summary(); s.Open != 1 || s.ByPriority[vuln.PriorityUrgent]+s.ByPriority[vuln.PriorityNow]+s.ByPriority[vuln.PrioritySoon] != 1 {
			t.Errorf("after the job: %+v", s)
		}
		ns := decodeBody[notificationList](t, f.do(t, "GET", base+"/notifications", f.staffA.read, ""))
		if len(ns.Notifications) != 1 || !strings.Contains(ns.Notifications[0].Body, "A玄関ルーター") {
			t.Errorf("alert: %+v", ns)
		}
		if f.auditActions(t, f.orgA.ID, "vuln.identity.set") != 1 {
			t.Error("identity change not audited")
		}
	})
}
