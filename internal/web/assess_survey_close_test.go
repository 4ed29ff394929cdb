package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
)

// TestAssessSurveyClose closes a survey from its page: only the owning
// ISAC can, the page then says it is closed and offers no button, members
// can no longer answer, and a second close is refused.
func TestAssessSurveyClose(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		op := e.signedIn(e.oper, e.isac)
		r := op.post("/assess/surveys", url.Values{"title": {"締め切り調査"}, "item": {"mhlw-r7-institution/patch"}, "kind": {"hospital"}})
		wantStatus(t, r, http.StatusSeeOther)
		page := r.loc()
		r = op.get(page)
		wantContains(t, r, `id="close-survey"`)

		admin := e.signedIn(e.admin, e.hosp)
		r = admin.get(page)
		if strings.Contains(r.body, `id="close-survey"`) {
			t.Fatal("an invited member sees the close button")
		}
		wantStatus(t, admin.post(page+"/close", nil), http.StatusNotFound)
		wantStatus(t, e.signedIn(e.other, e.clinic).post(page+"/close", nil), http.StatusNotFound)
		if n := e.auditCount(e.isac.ID, "assess.survey.close"); n != 0 {
			t.Fatalf("%d close entries after refused attempts", n)
		}

		wantStatus(t, op.post(page+"/close", nil), http.StatusSeeOther)
		if n := e.auditCount(e.isac.ID, "assess.survey.close"); n != 1 {
			t.Errorf("%d close entries, want 1", n)
		}
		r = op.get(page)
		wantContains(t, r, `id="survey-closed"`)
		if strings.Contains(r.body, `id="close-survey"`) || strings.Contains(r.body, `id="remind"`) {
			t.Error("a closed survey still offers close or remind")
		}
		wantStatus(t, op.post(page+"/close", nil), http.StatusConflict)
		if n := e.auditCount(e.isac.ID, "assess.survey.close"); n != 1 {
			t.Errorf("%d close entries after a second close, want 1", n)
		}

		r = admin.get(page)
		wantContains(t, r, text("assess.survey.closed"))
		wantStatus(t, admin.post(page+"/respond", url.Values{"value.patch.": {"no"}}), http.StatusConflict)
	})
}
