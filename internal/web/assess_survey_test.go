package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// TestAssessSurveyPages builds a survey from checklist items, sends it to
// hospitals, answers it as a member, shows the operator the response rate
// and charts only once 5 institutions answered, and shows the member its
// answer against similar institutions; the overview names only
// institutions that shared their sheet.
func TestAssessSurveyPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		var others []*auth.Org
		for i := range 5 {
			beds := 120 + i
			others = append(others, e.mustOrg(auth.OrgInput{Kind: auth.KindHospital, Name: fmt.Sprintf("会員病院%d", i), NameKana: "カイイン", Prefecture: "東京都", Beds: &beds}))
		}
		op := e.signedIn(e.oper, e.isac)
		wantStatus(t, op.get("/assess/surveys"), http.StatusOK)
		r := op.post("/assess/surveys", url.Values{"title": {"パッチ適用調査"}, "item": {"mhlw-r7-institution/patch"}, "kind": {"hospital"}, "due_on": {"2026-05-31"}})
		wantStatus(t, r, http.StatusSeeOther)
		m := regexp.MustCompile(`^/assess/surveys/([0-9a-f-]+)$`).FindStringSubmatch(r.loc())
		if m == nil {
			t.Fatalf("redirect %q", r.loc())
		}
		page := r.loc()
		r = op.get(page)
		wantContains(t, r, text("assess.surveys.rate_text", 0, 6))

		admin := e.signedIn(e.admin, e.hosp)
		r = admin.get("/assess/surveys")
		wantContains(t, r, "パッチ適用調査")
		r = admin.get(page)
		wantContains(t, r, `id="respond-form"`)
		wantStatus(t, admin.post(page+"/respond", url.Values{"value.patch.": {"maybe"}}), http.StatusBadRequest)
		wantStatus(t, admin.post(page+"/respond", url.Values{"value.patch.": {"no"}}), http.StatusSeeOther)
		r = op.get(page)
		wantContains(t, r, text("assess.surveys.rate_text", 1, 6))
		wantContains(t, r, text("assess.surveys.hidden", assess.MinGroup))
		if strings.Contains(r.body, `class="bars"`) {
			t.Fatal("a chart of 1 institution is shown")
		}

		reg := assessRegistry()
		for i, o := range others {
			if err := d.InTx(bg, func(tx *db.Tx) error {
				_, err := assess.Respond(bg, tx, reg, o.ID, m[1], "", []assess.Answer{{ItemID: "patch", Value: map[bool]string{true: "yes", false: "no"}[i < 3]}}, e.clock.Now())
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		r = op.get(page)
		wantContains(t, r, `class="bars"`)
		wantContains(t, r, "3（50%）")
		r = op.get(page + "?prefecture=" + url.QueryEscape("東京都") + "&min_beds=120&max_beds=123")
		wantContains(t, r, text("assess.surveys.hidden", assess.MinGroup))
		wantStatus(t, op.post(page+"/remind", nil), http.StatusSeeOther)

		r = admin.get(page)
		wantContains(t, r, `class="bars"`)
		wantContains(t, r, text("assess.surveys.yours", "いいえ"))
		wantStatus(t, e.signedIn(e.other, e.clinic).get(page), http.StatusNotFound)
		wantStatus(t, e.signedIn(e.other, e.clinic).post(page+"/respond", url.Values{"value.patch.": {"no"}}), http.StatusNotFound)

		// Overview: counts for everyone, names only when shared.
		r = admin.post("/assess/sheets", url.Values{"edition": {"mhlw-r7-institution"}, "year": {"2026"}})
		sheet := r.loc()
		r = op.get("/assess/overview?family=mhlw-institution&year=2026")
		wantStatus(t, r, http.StatusOK)
		if strings.Contains(r.body, "北町総合病院") {
			t.Fatal("the overview names an institution that did not share")
		}
		wantStatus(t, admin.post(sheet+"/share", url.Values{"shared": {"1"}}), http.StatusSeeOther)
		r = op.get("/assess/overview?family=mhlw-institution&year=2026")
		wantContains(t, r, "北町総合病院")
		wantStatus(t, admin.get("/assess/overview"), http.StatusNotFound)
	})
}
