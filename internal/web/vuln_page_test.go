package web

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/testkit/seed"
	"github.com/medisac/medisac/internal/vuln"
)

var (
	findingRow = regexp.MustCompile(`<tr data-finding="([^"]+)" data-priority="(\d)">`)
	nextLink   = regexp.MustCompile(`id="vuln-next" href="([^"]+)"`)
	prevLink   = regexp.MustCompile(`id="vuln-prev" href="([^"]+)"`)
)

// seedVulnFindings gives org n synthetic findings (priority 1+i%4, every
// seventh closed) on a few devices.
func seedVulnFindings(t *testing.T, e *env, org string, n int) {
	t.Helper()
	assets := seed.Devices(t, e.d, org, "検査機器%d", inventory.KindMedical, 4, e.clock.Now())
	seed.Findings(t, e.d, org, assets, n, e.clock.Now(), func(i int) seed.Finding {
		return seed.Finding{Active: i%7 != 6, Priority: 1 + i%4, Rank: 1000 * (i % 3)}
	})
}

func TestVulnDashboardPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		seedVulnFindings(t, e, e.hosp.ID, 1200)
		seedVulnFindings(t, e, e.clinic.ID, 10)
		open, err := vuln.ListFindings(bg, d, e.hosp.ID, vuln.FindingFilter{})
		if err != nil {
			t.Fatal(err)
		}
		staff := e.signedIn(e.staff, e.hosp)
		walk := func(start string) ([]string, []resp) {
			t.Helper()
			var ids []string
			var pages []resp
			for path := start; path != ""; {
				r := staff.get(path)
				wantStatus(t, r, http.StatusOK)
				pages = append(pages, r)
				for _, m := range findingRow.FindAllStringSubmatch(r.body, -1) {
					ids = append(ids, m[1])
				}
				path = ""
				if m := nextLink.FindStringSubmatch(r.body); m != nil {
					path = html.UnescapeString(m[1])
				}
				if len(pages) > 100 {
					t.Fatal("pages never end")
				}
			}
			return ids, pages
		}
		ids, pages := walk("/vuln")
		if len(ids) != len(open) || len(pages) != (len(open)+99)/100 {
			t.Fatalf("%d findings on %d pages, want %d", len(ids), len(pages), len(open))
		}
		for i, f := range open {
			if ids[i] != f.ID {
				t.Fatalf("row %d is %s, want %s", i, ids[i], f.ID)
			}
		}
		total := len(open)
		wantContains(t, pages[0], text("vulnpage.range", fmt.Sprintf("%d,%03d", total/1000, total%1000), "1", "100"))
		wantContains(t, pages[1], text("vulnpage.range", fmt.Sprintf("%d,%03d", total/1000, total%1000), "101", "200"))
		wantContains(t, pages[1], "前へ")
		wantContains(t, pages[0], "次へ")
		if strings.Contains(pages[0].body, `id="vuln-prev"`) || strings.Contains(pages[len(pages)-1].body, `id="vuln-next"`) {
			t.Error("first page offers 前へ or last page 次へ")
		}
		// 前へ from the second page shows the first page again.
		m := prevLink.FindStringSubmatch(pages[1].body)
		if m == nil {
			t.Fatal("no 前へ on page 2")
		}
		back := staff.get(html.UnescapeString(m[1]))
		if got := findingRow.FindAllStringSubmatch(back.body, -1); len(got) != 100 || got[0][1] != open[0].ID {
			t.Errorf("前へ shows %d rows", len(got))
		}

		// The filter stays on every page.
		ids, pages = walk("/vuln?priority=2&all=1")
		all, _ := vuln.ListFindings(bg, d, e.hosp.ID, vuln.FindingFilter{Priority: 2, All: true})
		if len(ids) != len(all) || len(all) != 300 {
			t.Errorf("priority 2 with closed: %d of %d", len(ids), len(all))
		}
		for _, p := range pages {
			for _, m := range findingRow.FindAllStringSubmatch(p.body, -1) {
				if m[2] != "2" {
					t.Fatalf("priority filter lost: row of priority %s", m[2])
				}
			}
		}
		if m := nextLink.FindStringSubmatch(pages[0].body); m == nil || !strings.Contains(m[1], "priority=2") || !strings.Contains(m[1], "all=1") {
			t.Errorf("next link drops the filter: %v", m)
		}
		wantContains(t, pages[0], text("vulnpage.range", "300", "1", "100"))

		// A bad or stale cursor says so and shows the first page.
		for cursor, key := range map[string]string{"garbage": "vulnpage.cursor.invalid", "": "vulnpage.cursor.stale"} {
			path := "/vuln?cursor=" + url.QueryEscape(cursor)
			if cursor == "" {
				m := nextLink.FindStringSubmatch(pages[0].body)
				u, _ := url.Parse(html.UnescapeString(m[1]))
				path = "/vuln?priority=3&cursor=" + url.QueryEscape(u.Query().Get("cursor"))
			}
			r := staff.get(path)
			wantStatus(t, r, http.StatusBadRequest)
			wantContains(t, r, text(key))
			wantContains(t, r, `id="vuln-first"`)
			if rows := findingRow.FindAllStringSubmatch(r.body, -1); len(rows) != 100 {
				t.Errorf("%s: %d rows", key, len(rows))
			}
		}
		// The clinic sees its own ten findings only.
		ids, _ = walk("/vuln")
		other, _ := walk2(e, "/vuln")
		for _, id := range other {
			for _, mine := range ids {
				if id == mine {
					t.Fatal("the clinic sees the hospital's finding")
				}
			}
		}
		if len(other) != 9 {
			t.Errorf("clinic: %d findings", len(other))
		}
	})
}

func walk2(e *env, path string) ([]string, resp) {
	r := e.signedIn(e.other, e.clinic).get(path)
	var ids []string
	for _, m := range findingRow.FindAllStringSubmatch(r.body, -1) {
		ids = append(ids, m[1])
	}
	return ids, r
}

// TestVulnIdentityQueued: a correction through the page also enqueues the
// device's re-match in its transaction, due after the periodic interval.
func TestVulnIdentityQueued(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		fw, err := inventory.CreateAsset(bg, d, e.hosp.ID, "", inventory.Asset{Name: "正面玄関FW", Kind: inventory.KindNetwork, Vendor: "Fortinet",
			Product: "FortiGate", Version: "7.2.2"}, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		admin := e.signedIn(e.admin, e.hosp)
		wantStatus(t, admin.get("/vuln/assets/"+fw.ID), http.StatusOK)
		r := admin.post("/vuln/assets/"+fw.ID+"/identity", url.Values{"cpe": {"cpe:2.3:o:fortinet:fortios:7.2.5"}})
		wantStatus(t, r, http.StatusSeeOther)
		js, err := e.srv.Queue.List(bg, jobs.Filter{Kind: vuln.JobMatchAssets})
		if err != nil || len(js) != 1 || !strings.Contains(string(js[0].Payload), fw.ID) || !js[0].RunAt.After(e.clock.Now()) {
			t.Errorf("re-match job: %+v %v", js, err)
		}
		r = admin.post("/vuln/assets/"+fw.ID+"/identity", url.Values{"cpe": {"not a cpe"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if js, _ := e.srv.Queue.List(bg, jobs.Filter{Kind: vuln.JobMatchAssets}); len(js) != 1 {
			t.Errorf("a refused correction enqueued a job: %d", len(js))
		}
	})
}
