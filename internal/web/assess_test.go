package web

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/db"
)

var sheetPath = regexp.MustCompile(`^/assess/sheets/([0-9a-f-]+)$`)

// TestAssessFlow fills a sheet through the pages: start, a refused answer
// that names the item and saves nothing, answers, evidence upload and
// download, sign-off by the admin, and the PDF and Excel downloads; the
// other organisation sees none of it.
func TestAssessFlow(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		admin := e.signedIn(e.admin, e.hosp)
		r := admin.get("/assess")
		wantStatus(t, r, http.StatusOK)
		r = admin.post("/assess/sheets", url.Values{"edition": {"mhlw-r7-institution"}, "year": {"2026"}})
		wantStatus(t, r, http.StatusSeeOther)
		m := sheetPath.FindStringSubmatch(r.loc())
		if m == nil {
			t.Fatalf("redirect to %q", r.loc())
		}
		sheet := "/assess/sheets/" + m[1]
		r = admin.get(sheet)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "<progress")
		wantContains(t, r, text("assess.unverified"))

		// A target date outside the fiscal year is refused with the item named.
		r = admin.get(sheet + "/items/patch")
		wantStatus(t, r, http.StatusOK)
		r = admin.post(sheet+"/items/patch", url.Values{"answer1.general": {"no"}, "date1.general": {"2026-04-01"}, "target.general": {"2027-04-01"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, "2-⑥")
		wantContains(t, r, "2027-04-01")
		r = admin.get(sheet)
		r7, _ := assessRegistry().Get(bg, d, "", "mhlw-r7-institution")
		wantContains(t, r, text("assess.progress", 0, r7.CellCount()))

		r = admin.post(sheet+"/items/has_system", url.Values{"answer1.": {"yes"}, "date1.": {"2026-04-01"}})
		wantStatus(t, r, http.StatusSeeOther)
		r = admin.post(sheet+"/items/patch", url.Values{"answer1.general": {"no"}, "date1.general": {"2026-04-01"}, "target.general": {"2026-09-30"}})
		wantStatus(t, r, http.StatusSeeOther)

		// Evidence upload, then download.
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("csrf", admin.csrf)
		mw.WriteField("note", "更新記録")
		fw, _ := mw.CreateFormFile("file", "パッチ適用記録.txt")
		fw.Write([]byte("2026-04-01 サーバ更新\n"))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, e.ts.URL+sheet+"/items/patch/evidence", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		r = admin.do(req)
		wantStatus(t, r, http.StatusSeeOther)
		r = admin.get(sheet + "/items/patch")
		wantContains(t, r, "パッチ適用記録.txt")
		ev := regexp.MustCompile(`href="(` + regexp.QuoteMeta(sheet) + `/evidence/[0-9a-f-]+)"`).FindStringSubmatch(r.body)
		if ev == nil {
			t.Fatal("no evidence link")
		}
		r = admin.get(ev[1])
		wantStatus(t, r, http.StatusOK)
		if r.body != "2026-04-01 サーバ更新\n" {
			t.Errorf("evidence body %q", r.body)
		}

		// The other organisation gets 404 everywhere.
		other := e.signedIn(e.other, e.clinic)
		for _, p := range []string{sheet, sheet + "/items/patch", ev[1], sheet + "/report.pdf", sheet + "/compare"} {
			wantStatus(t, other.get(p), http.StatusNotFound)
		}
		wantStatus(t, other.post(sheet+"/items/patch", url.Values{"answer1.general": {"yes"}, "date1.general": {"2026-04-01"}}), http.StatusNotFound)

		// Fill the rest through the store and sign as admin; staff cannot sign.
		reg := assessRegistry()
		ed, _ := reg.Get(bg, d, e.hosp.ID, "mhlw-r7-institution")
		var in []assess.Answer
		for _, it := range ed.Items()[1:] {
			for _, c := range it.CellIDs() {
				if it.ID != "patch" {
					in = append(in, assess.Answer{ItemID: it.ID, Cell: c, Answer1: "yes", Date1: "2026-04-01"})
				}
			}
		}
		if err := d.InTx(bg, func(tx *db.Tx) error {
			_, err := assess.SaveAnswers(bg, tx, ed, e.hosp.ID, m[1], e.admin.ID, in, e.clock.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		staff := e.signedIn(e.staff, e.hosp)
		staff.get(sheet)
		wantStatus(t, staff.post(sheet+"/sign", url.Values{"name": {"職員"}}), http.StatusForbidden)
		admin.get(sheet)
		r = admin.post(sheet+"/sign", url.Values{"name": {"院長 北町花子"}})
		wantStatus(t, r, http.StatusSeeOther)
		r = admin.get(sheet)
		wantContains(t, r, "院長 北町花子")

		r = admin.get(sheet + "/report.pdf")
		wantStatus(t, r, http.StatusOK)
		if !strings.HasPrefix(r.body, "%PDF-") || r.header.Get("Content-Type") != "application/pdf" {
			t.Errorf("not a PDF: %q", r.header.Get("Content-Type"))
		}
		r = admin.get(sheet + "/report.xlsx")
		wantStatus(t, r, http.StatusOK)
		if !strings.HasPrefix(r.body, "PK") {
			t.Error("not an xlsx")
		}
		if n := e.auditCount(e.hosp.ID, "assess.answer.save"); n != 2 {
			t.Errorf("%d answer audit entries", n)
		}
		if n := e.auditCount(e.hosp.ID, "assess.sheet.sign"); n != 1 {
			t.Errorf("%d sign audit entries", n)
		}
	})
}
