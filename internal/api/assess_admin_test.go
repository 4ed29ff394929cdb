package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// allAnswers answers every cell of e, dated date, as JSON for PUT answers.
func allAnswers(t *testing.T, e *assess.Edition, date string) string {
	t.Helper()
	b, err := json.Marshal(answersIn{Answers: seed.Answers(e, date)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// vendorOrg creates a vendor organisation with an admin holding a write
// and a read-only token.
func (f *fixture) vendorOrg(t *testing.T, name, email string) (*auth.Org, person) {
	t.Helper()
	now := f.clock.Now()
	o := seed.Org(t, f.d, auth.OrgInput{Kind: auth.KindVendor, Name: name, NameKana: "ベンダー", Prefecture: "東京都"}, now)
	p := tokened(t, f.d, seed.MemberAs(t, f.d, o, auth.NewUser{Email: email, DisplayName: "担当 一郎", Lang: "ja"}, auth.RoleAdmin, now), now)
	return o, p
}

// auditActions counts org's audit entries with action.
func (f *fixture) auditActions(t *testing.T, org, action string) int {
	t.Helper()
	es, err := f.log.List(context.Background(), org, audit.Filter{ActionPrefix: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if e.Action == action {
			n++
		}
	}
	return n
}

// TestAssessOverviewAPI shows the ISAC operators every member's progress
// with names only for shared sheets, and hides the route from everyone
// else as the web page does.
func TestAssessOverviewAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ov := "/api/v1/assess/overview?family=mhlw-institution&year=2025"
		rec := f.do(t, "POST", "/api/v1/orgs/"+f.orgA.ID+"/assess/sheets", f.staffA.write, `{"edition_id":"mhlw-r7-institution","fiscal_year":2025}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("start: %d %s", rec.Code, rec.Body)
		}
		sheetID := decodeBody[map[string]any](t, rec)["id"].(string)

		rec = f.do(t, "GET", ov, f.op.read, "")
		got := decodeBody[assess.Overview](t, rec)
		if rec.Code != 200 || got.Members != 2 || got.Started != 1 || got.Complete != 0 || got.Signed != 0 || got.FiscalYear != 2025 || got.Family != "mhlw-institution" {
			t.Fatalf("overview: %d %s", rec.Code, rec.Body)
		}
		if got.Shared == nil || len(got.Shared) != 0 || strings.Contains(rec.Body.String(), f.orgA.Name) || strings.Contains(rec.Body.String(), f.orgA.ID) {
			t.Fatalf("an unshared sheet is named: %s", rec.Body)
		}
		if err := assess.SetShared(context.Background(), d, f.orgA.ID, sheetID, true, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		rec = f.do(t, "GET", ov, f.op.read, "")
		got = decodeBody[assess.Overview](t, rec)
		if len(got.Shared) != 1 || got.Shared[0].OrgName != f.orgA.Name || got.Shared[0].Progress.Answered != 0 {
			t.Fatalf("shared: %s", rec.Body)
		}
		rec = f.do(t, "GET", "/api/v1/assess/overview?family=mhlw-pharmacy&year=2025", f.op.read, "")
		if got = decodeBody[assess.Overview](t, rec); got.Started != 0 || len(got.Shared) != 0 {
			t.Errorf("another family counts A's sheet: %s", rec.Body)
		}
		rec = f.do(t, "GET", "/api/v1/assess/overview", f.op.read, "")
		if got = decodeBody[assess.Overview](t, rec); got.FiscalYear != 2025 || got.Family != "mhlw-institution" {
			t.Errorf("defaults: %s", rec.Body)
		}

		for _, tok := range []string{f.adminA.write, f.staffA.read, f.adminB.read} {
			missing := f.do(t, "GET", "/api/v1/orgs/"+db.NewID(), tok, "").Body.String()
			rec = f.do(t, "GET", ov, tok, "")
			if rec.Code != http.StatusNotFound || rec.Body.String() != missing {
				t.Errorf("non-operator: %d %s", rec.Code, rec.Body)
			}
		}
		for _, tc := range []struct{ query, field string }{
			{"?year=25", "year"}, {"?year=abc", "year"}, {"?year=2100", "year"},
			{"?family=mhlw-vendor", "family"}, {"?family=x&year=2025", "family"},
		} {
			rec = f.do(t, "GET", "/api/v1/assess/overview"+tc.query, f.op.read, "")
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"field":"`+tc.field+`"`) {
				t.Errorf("%s: %d %s", tc.query, rec.Code, rec.Body)
			}
		}
	})
}

// TestAssessInboxAPI lets a vendor with a medisac organisation list the
// requests addressed to it and answer one from its own complete sheet;
// another vendor's request is not found, and the customer sees the
// signed copy.
func TestAssessInboxAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		vOrg, v := f.vendorOrg(t, "港システム", "tanto@minato-sys.example.jp")
		wOrg, w := f.vendorOrg(t, "西データ", "tanto@nishi-data.example.jp")
		request := func(vendorOrg, name string) string {
			iv, err := inventory.CreateVendor(ctx, d, f.orgA.ID, inventory.Vendor{Name: name, MedisacOrgID: vendorOrg}, f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := inventory.CreateSystem(ctx, d, f.orgA.ID, inventory.System{Name: name + "のシステム", VendorID: iv.ID}, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			rec := f.do(t, "POST", "/api/v1/orgs/"+f.orgA.ID+"/assess/vendor-requests", f.adminA.write,
				`{"vendor_id":"`+iv.ID+`","edition_id":"mhlw-r7-vendor","fiscal_year":2025,"due_on":"2025-06-30"}`)
			if rec.Code != http.StatusCreated {
				t.Fatalf("request: %d %s", rec.Code, rec.Body)
			}
			return decodeBody[map[string]any](t, rec)["id"].(string)
		}
		rv := request(vOrg.ID, "港システム")
		rw := request(wOrg.ID, "西データ")
		vBase := "/api/v1/orgs/" + vOrg.ID + "/assess"

		type inboxList struct {
			Requests []inboxRow `json:"requests"`
		}
		rec := f.do(t, "GET", vBase+"/inbox", v.read, "")
		in := decodeBody[inboxList](t, rec)
		if rec.Code != 200 || len(in.Requests) != 1 {
			t.Fatalf("inbox: %d %s", rec.Code, rec.Body)
		}
		r0 := in.Requests[0]
		if r0.ID != rv || r0.CustomerName != f.orgA.Name || r0.CustomerID != f.orgA.ID || r0.State != assess.VendorRequested || r0.OwnProgress != nil ||
			r0.FiscalYear != 2025 || r0.DueOn != "2025-06-30" || r0.EditionTitle == "" {
			t.Fatalf("inbox row: %s", rec.Body)
		}
		if strings.Contains(rec.Body.String(), rw) || strings.Contains(rec.Body.String(), "西データ") {
			t.Fatalf("inbox shows another vendor's request: %s", rec.Body)
		}
		rec = f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID+"/assess/inbox", f.adminA.read, "")
		if in = decodeBody[inboxList](t, rec); rec.Code != 200 || len(in.Requests) != 0 {
			t.Fatalf("the customer's own inbox: %d %s", rec.Code, rec.Body)
		}
		if rec = f.do(t, "GET", "/api/v1/orgs/"+f.isac.ID+"/assess/inbox", f.op.read, ""); rec.Code != http.StatusNotFound {
			t.Errorf("operator inbox: %d", rec.Code)
		}

		for _, tc := range []struct {
			name, path, token string
			status            int
			key               string
		}{
			{"another vendor's request", vBase + "/inbox/" + rw + "/answer", v.write, http.StatusNotFound, ""},
			{"via the other vendor's path", "/api/v1/orgs/" + wOrg.ID + "/assess/inbox/" + rv + "/answer", v.write, http.StatusNotFound, ""},
			{"the other vendor", "/api/v1/orgs/" + wOrg.ID + "/assess/inbox/" + rv + "/answer", w.write, http.StatusNotFound, ""},
			{"the customer", "/api/v1/orgs/" + f.orgA.ID + "/assess/inbox/" + rv + "/answer", f.adminA.write, http.StatusNotFound, ""},
			{"read-only token", vBase + "/inbox/" + rv + "/answer", v.read, http.StatusForbidden, ""},
			{"without an own sheet", vBase + "/inbox/" + rv + "/answer", v.write, http.StatusBadRequest, "assess.vendor.no_own_sheet"},
		} {
			rec = f.do(t, "POST", tc.path, tc.token, `{}`)
			if rec.Code != tc.status || tc.key != "" && !strings.Contains(rec.Body.String(), f.cat.T("ja", tc.key)) {
				t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}

		e, err := assessRegistry().Get(ctx, d, vOrg.ID, "mhlw-r7-vendor")
		if err != nil {
			t.Fatal(err)
		}
		rec = f.do(t, "POST", vBase+"/sheets", v.write, `{"edition_id":"mhlw-r7-vendor","fiscal_year":2025}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("own sheet: %d %s", rec.Code, rec.Body)
		}
		own := vBase + "/sheets/" + decodeBody[map[string]any](t, rec)["id"].(string)
		rec = f.do(t, "PUT", own+"/answers", v.write, `{"answers":[{"item_id":"`+e.Items()[0].ID+`","cell":"`+e.Items()[0].CellIDs()[0]+`","answer1":"yes","date1":"2025-04-01"}]}`)
		if rec.Code != 200 {
			t.Fatalf("first answer: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "POST", vBase+"/inbox/"+rv+"/answer", v.write, `{}`)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("incomplete own sheet: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", vBase+"/inbox", v.read, "")
		if in = decodeBody[inboxList](t, rec); in.Requests[0].OwnProgress == nil || in.Requests[0].OwnProgress.Complete() {
			t.Fatalf("own progress of a started sheet: %s", rec.Body)
		}
		if rec = f.do(t, "PUT", own+"/answers", v.write, allAnswers(t, e, "2025-04-01")); rec.Code != 200 {
			t.Fatalf("fill: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", vBase+"/inbox", v.read, "")
		if in = decodeBody[inboxList](t, rec); in.Requests[0].OwnProgress == nil || !in.Requests[0].OwnProgress.Complete() {
			t.Fatalf("own progress of a full sheet: %s", rec.Body)
		}

		rec = f.do(t, "POST", vBase+"/inbox/"+rv+"/answer", v.write, `{}`)
		got := decodeBody[inboxRow](t, rec)
		if rec.Code != 200 || got.ID != rv || got.State != assess.VendorAnswered || got.AnsweredAt == nil {
			t.Fatalf("answer: %d %s", rec.Code, rec.Body)
		}
		if rec = f.do(t, "POST", vBase+"/inbox/"+rv+"/answer", v.write, `{}`); rec.Code != http.StatusConflict {
			t.Errorf("second answer: %d %s", rec.Code, rec.Body)
		}
		if n := f.auditActions(t, f.orgA.ID, "assess.vendor.answer"); n != 1 {
			t.Errorf("customer has %d answer entries", n)
		}
		if n := f.auditActions(t, vOrg.ID, "assess.vendor.answer"); n != 1 {
			t.Errorf("vendor has %d answer entries", n)
		}

		rec = f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID+"/assess/vendor-requests", f.adminA.read, "")
		var sheetID string
		for _, x := range decodeBody[struct {
			VendorRequests []map[string]any `json:"vendor_requests"`
		}](t, rec).VendorRequests {
			switch x["id"] {
			case rv:
				if x["state"] != assess.VendorAnswered {
					t.Errorf("customer sees %v", x["state"])
				}
				sheetID, _ = x["sheet_id"].(string)
			case rw:
				if x["state"] != assess.VendorRequested {
					t.Errorf("the other request is %v", x["state"])
				}
			}
		}
		rec = f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID+"/assess/sheets/"+sheetID, f.adminA.read, "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "港システム 担当 一郎") {
			t.Fatalf("customer's copy: %d %s", rec.Code, rec.Body)
		}
		if rec = f.do(t, "GET", vBase+"/sheets/"+sheetID, v.read, ""); rec.Code != http.StatusNotFound {
			t.Errorf("the vendor reads the customer's copy: %d", rec.Code)
		}
	})
}

// TestAssessCloseSurveyAPI closes a survey as its owner: invited members
// and other organisations cannot, a closed survey takes no answers, and a
// second close is a conflict.
func TestAssessCloseSurveyAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		opBase := "/api/v1/orgs/" + f.isac.ID + "/assess"
		aBase := "/api/v1/orgs/" + f.orgA.ID + "/assess"
		rec := f.do(t, "POST", opBase+"/surveys", f.op.write, `{"edition":`+jsonString(apiSurvey)+`,"filter":{"kinds":["hospital"]}}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("survey: %d %s", rec.Code, rec.Body)
		}
		sid := decodeBody[map[string]any](t, rec)["id"].(string)
		for _, tc := range []struct {
			name, path, token string
			status            int
		}{
			{"invited member", aBase + "/surveys/" + sid + "/close", f.adminA.write, http.StatusNotFound},
			{"member via the owner's path", opBase + "/surveys/" + sid + "/close", f.adminA.write, http.StatusNotFound},
			{"unknown survey", opBase + "/surveys/" + db.NewID() + "/close", f.op.write, http.StatusNotFound},
			{"read-only token", opBase + "/surveys/" + sid + "/close", f.op.read, http.StatusForbidden},
		} {
			if rec = f.do(t, "POST", tc.path, tc.token, `{}`); rec.Code != tc.status {
				t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		if n := f.auditActions(t, f.isac.ID, "assess.survey.close"); n != 0 {
			t.Fatalf("%d close entries before closing", n)
		}
		rec = f.do(t, "POST", opBase+"/surveys/"+sid+"/close", f.op.write, `{}`)
		if got := decodeBody[map[string]any](t, rec); rec.Code != 200 || got["status"] != "closed" || got["id"] != sid {
			t.Fatalf("close: %d %s", rec.Code, rec.Body)
		}
		if n := f.auditActions(t, f.isac.ID, "assess.survey.close"); n != 1 {
			t.Errorf("%d close entries, want 1", n)
		}
		rec = f.do(t, "POST", opBase+"/surveys/"+sid+"/close", f.op.write, `{}`)
		if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "すでに締め切られています") {
			t.Errorf("second close: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "PUT", aBase+"/surveys/"+sid+"/response", f.staffA.write, `{"answers":[{"item_id":"offline","cell":"","value":"yes"}]}`)
		if rec.Code != http.StatusConflict {
			t.Errorf("answer to a closed survey: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", aBase+"/surveys/"+sid, f.adminA.read, "")
		if got := decodeBody[map[string]any](t, rec); got["status"] != "closed" {
			t.Errorf("member sees %v", got["status"])
		}
	})
}
