package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// TestGroupPages walks a hospital group through the pages: the head
// office creates it and invites by 医療機関コード, the invitee sees only
// the group and accepts, the overview counts the member and names it only
// once it shares its sheet, an outsider's sheet is never counted, and
// another organisation's group answers 404. Every change leaves an audit
// entry on both sides.
func TestGroupPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		branch := e.mustOrg(auth.OrgInput{Kind: auth.KindHospital, Name: "西町分院", NameKana: "ニシマチブンイン", MedicalCode: "1312345678"})
		branchAdmin := e.mustUser("admin@nishi.example.jp", "西 六郎", branch, auth.RoleAdmin)
		outsider := e.mustOrg(auth.OrgInput{Kind: auth.KindHospital, Name: "グループ外病院"})

		admin := e.signedIn(e.admin, e.hosp)
		wantContains(t, admin.get("/org"), `href="/org/groups"`)
		r := admin.post("/org/groups", url.Values{"name": {""}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, text("group.name_required"))
		r = admin.post("/org/groups", url.Values{"name": {"北町医療グループ"}})
		wantStatus(t, r, http.StatusSeeOther)
		m := regexp.MustCompile(`^/org/groups/([0-9a-f-]{36})$`).FindStringSubmatch(r.loc())
		if m == nil {
			t.Fatalf("redirect %q", r.loc())
		}
		page, gid := m[0], m[1]
		wantContains(t, admin.get("/org/groups"), "北町医療グループ")

		// Staff see the group but cannot change it.
		staff := e.signedIn(e.staff, e.hosp)
		r = staff.get(page)
		wantStatus(t, r, http.StatusOK)
		if strings.Contains(r.body, `id="group-invite"`) {
			t.Fatal("staff get the invitation form")
		}
		wantStatus(t, staff.post(page+"/invites", url.Values{"ref": {"1312345678"}}), http.StatusForbidden)
		wantStatus(t, e.signedIn(e.auditor, e.hosp).post(page+"/invites", url.Values{"ref": {"1312345678"}}), http.StatusForbidden)

		r = admin.post(page+"/invites", url.Values{"ref": {"999"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, text("group.ref_invalid"))
		wantStatus(t, admin.post(page+"/invites", url.Values{"ref": {"13-1234-5678"}}), http.StatusSeeOther)
		wantStatus(t, admin.post(page+"/invites", url.Values{"ref": {e.clinic.ID}}), http.StatusSeeOther)
		r = admin.get(page)
		wantContains(t, r, text("group.web.pending_as", "1312345678"))
		if strings.Contains(r.body, "西町分院") || strings.Contains(r.body, "南町クリニック") {
			t.Fatal("the owner sees an invitee's name before it accepted")
		}

		// The invitee's staff see the invitation; its admin accepts.
		bStaff := e.signedIn(e.mustUser("staff@nishi.example.jp", "西 七郎", branch, auth.RoleStaff), branch)
		r = bStaff.get("/org/groups")
		wantContains(t, r, "北町医療グループ")
		wantContains(t, r, "北町総合病院")
		if strings.Contains(r.body, "/accept") {
			t.Fatal("staff of the invitee get the accept button")
		}
		wantStatus(t, bStaff.post("/org/groups/"+gid+"/accept", nil), http.StatusForbidden)
		wantStatus(t, bStaff.get(page), http.StatusNotFound)
		bAdmin := e.signedIn(branchAdmin, branch)
		wantStatus(t, bAdmin.post("/org/groups/"+gid+"/accept", nil), http.StatusSeeOther)
		wantContains(t, admin.get(page), "西町分院")
		clinic := e.signedIn(e.other, e.clinic)
		wantStatus(t, clinic.post("/org/groups/"+gid+"/decline", nil), http.StatusSeeOther)
		wantStatus(t, clinic.post("/org/groups/"+gid+"/accept", nil), http.StatusNotFound)

		// The overview: the member is counted, named only once it shares.
		fy := assess.FiscalYearOf(e.clock.Now())
		ed, err := assessRegistry().LatestFor(bg, d, "", "mhlw-institution", fy)
		if err != nil {
			t.Fatal(err)
		}
		var sheets []*assess.Sheet
		for _, o := range []*auth.Org{branch, outsider} {
			sh, err := assess.StartSheet(bg, d, ed, o.ID, fy, "", e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			sheets = append(sheets, sh)
		}
		if err := assess.SetShared(bg, d, outsider.ID, sheets[1].ID, true, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		overview := "/assess/overview?group=" + gid
		r = staff.get(overview)
		wantStatus(t, r, http.StatusOK)
		counts := regexp.MustCompile(`(?s)id="overview-counts">.*?</dl>`).FindString(r.body)
		if strings.Count(counts, "<dd>1</dd>") != 2 || strings.Count(counts, "<dd>0</dd>") != 2 {
			t.Fatalf("counts %s", counts)
		}
		for _, name := range []string{"西町分院", "グループ外病院", "南町クリニック"} {
			if strings.Contains(r.body, name) {
				t.Fatalf("the overview names %s", name)
			}
		}
		wantStatus(t, bAdmin.post("/assess/sheets/"+sheets[0].ID+"/share", url.Values{"shared": {"1"}}), http.StatusSeeOther)
		r = staff.get(overview)
		wantContains(t, r, "西町分院")
		if strings.Contains(r.body, "グループ外病院") {
			t.Fatal("the overview names an organisation outside the group")
		}

		// Another organisation's group is a missing one, everywhere.
		missing := db.NewID()
		for _, c := range []*client{bAdmin, clinic, e.signedIn(e.oper, e.isac)} {
			for _, id := range []string{gid, missing} {
				want := c.get("/org/groups/" + missing)
				wantStatus(t, want, http.StatusNotFound)
				wantStatus(t, c.get("/org/groups/"+id), http.StatusNotFound)
				wantStatus(t, c.get("/assess/overview?group="+id), http.StatusNotFound)
				wantStatus(t, c.post("/org/groups/"+id+"/invites", url.Values{"ref": {outsider.ID}}), http.StatusNotFound)
				wantStatus(t, c.post("/org/groups/"+id+"/members/"+branch.ID+"/delete", nil), http.StatusNotFound)
				wantStatus(t, c.post("/org/groups/"+id+"/delete", nil), http.StatusNotFound)
			}
		}

		// Audit entries on both sides, then the member leaves and the
		// owner deletes the group.
		if e.auditCount(e.hosp.ID, "group.invite") != 2 || e.auditCount(branch.ID, "group.invite") != 1 ||
			e.auditCount(branch.ID, "group.accept") != 1 || e.auditCount(e.hosp.ID, "group.accept") != 1 ||
			e.auditCount(e.clinic.ID, "group.decline") != 1 || e.auditCount(e.hosp.ID, "group.decline") != 1 {
			t.Fatal("missing audit entries")
		}
		wantStatus(t, bAdmin.post("/org/groups/"+gid+"/leave", nil), http.StatusSeeOther)
		if e.auditCount(e.hosp.ID, "group.leave") != 1 {
			t.Fatal("leaving is not in the owner's log")
		}
		r = staff.get(overview)
		if strings.Contains(r.body, "西町分院") {
			t.Fatal("a member that left is still named")
		}
		wantStatus(t, admin.post(page+"/members/"+e.clinic.ID+"/delete", nil), http.StatusSeeOther)
		wantStatus(t, admin.post(page+"/delete", nil), http.StatusSeeOther)
		wantStatus(t, admin.get(page), http.StatusNotFound)
		if e.auditCount(e.hosp.ID, "group.delete") != 1 || e.auditCount(e.hosp.ID, "group.remove") != 1 {
			t.Fatal("missing delete or remove entries")
		}
	})
}
