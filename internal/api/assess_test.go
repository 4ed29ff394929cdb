package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit"
)

var apiSurvey = testkit.Survey("isac-api-survey", "API調査", 2025)

// assessA holds organisation A's assessment objects for the isolation walk.
type assessA struct {
	sheet, evidence, vendor, survey string
}

// seedAssessA gives organisation A a sheet with an answer and evidence, a
// vendor request, and a response to an ISAC survey sent to hospitals.
func seedAssessA(f *fixture) assessA {
	ctx := context.Background()
	now := f.clock.Now()
	a := f.orgA.ID
	reg := assessRegistry()
	e, _ := reg.Get(ctx, f.d, a, "mhlw-r7-institution")
	var out assessA
	err := f.d.InTx(ctx, func(tx *db.Tx) error {
		sh, err := assess.StartSheet(ctx, tx, e, a, 2025, "", now)
		if err != nil {
			return err
		}
		if _, err := assess.SaveAnswers(ctx, tx, e, a, sh.ID, f.adminA.user.ID, []assess.Answer{{ItemID: "has_system", Answer1: "yes", Date1: "2025-04-01", Comment: "A秘密回答"}}, now); err != nil {
			return err
		}
		ev, err := assess.AddEvidence(ctx, tx, e, a, sh.ID, "has_system", f.adminA.user.ID, assess.EvidenceInput{Name: "A秘密証跡.txt", Data: []byte("A秘密の中身\n")}, now)
		if err != nil {
			return err
		}
		v, err := inventory.CreateVendor(ctx, tx, a, inventory.Vendor{Name: "A秘密カルテ会社", Email: "a-secret@vendor.example.jp"}, now)
		if err != nil {
			return err
		}
		if _, err := inventory.CreateSystem(ctx, tx, a, inventory.System{Name: "A秘密カルテ", VendorID: v.ID}, now); err != nil {
			return err
		}
		req, _, err := assess.RequestVendorSheet(ctx, tx, reg, a, f.adminA.user.ID, assess.VendorRequestInput{VendorID: v.ID, EditionID: "mhlw-r7-vendor", FiscalYear: 2025}, now)
		if err != nil {
			return err
		}
		s, err := assess.CreateSurvey(ctx, tx, reg, f.isac.ID, f.op.user.ID, []byte(apiSurvey), assess.OrgFilter{Kinds: []string{"hospital"}}, "", now)
		if err != nil {
			return err
		}
		if _, err := assess.Respond(ctx, tx, reg, a, s.ID, f.adminA.user.ID, []assess.Answer{{ItemID: "offline", Value: "yes"}}, now); err != nil {
			return err
		}
		out = assessA{sheet: sh.ID, evidence: ev.ID, vendor: req.ID, survey: s.ID}
		return nil
	})
	if err != nil {
		panic(err)
	}
	f.secretsA = append(f.secretsA, "A秘密", "a-secret@vendor.example.jp", out.sheet, out.evidence, out.vendor)
	return out
}

// assessIsolationCases are the tenant-isolation cases of the assessment
// routes.
func assessIsolationCases(f *fixture) map[string][]isoCase {
	ids := seedAssessA(f)
	a, b := f.orgA.ID, f.orgB.ID
	both := func(suffix, body string) []isoCase {
		return []isoCase{
			{name: "A's path", path: "/api/v1/orgs/" + a + "/assess" + suffix, body: body},
			{name: "B's path with A's ids", path: "/api/v1/orgs/" + b + "/assess" + suffix, body: body},
		}
	}
	answers := `{"answers":[{"item_id":"has_system","cell":"","answer1":"no","date1":"2025-04-01"}]}`
	sheet := "/sheets/" + ids.sheet
	survey := "/surveys/" + ids.survey
	return map[string][]isoCase{
		"GET /api/v1/assess/editions": {{name: "editions", path: "/api/v1/assess/editions", collection: true}},
		"GET " + asBase + "/sheets": {
			{name: "A's", path: "/api/v1/orgs/" + a + "/assess/sheets"},
			{name: "own", path: "/api/v1/orgs/" + b + "/assess/sheets?fiscal_year=2025", collection: true},
		},
		"POST " + asBase + "/sheets":                         {{name: "into A", path: "/api/v1/orgs/" + a + "/assess/sheets", body: `{"edition_id":"mhlw-r7-institution","fiscal_year":2026}`}},
		"GET " + asBase + "/sheets/{sheet}":                  both(sheet, ""),
		"PUT " + asBase + "/sheets/{sheet}/answers":          both(sheet+"/answers", answers),
		"GET " + asBase + "/sheets/{sheet}/evidence":         both(sheet+"/evidence", ""),
		"POST " + asBase + "/sheets/{sheet}/evidence":        both(sheet+"/evidence", `{"item_id":"has_system","name":"x.txt","content_base64":"eHgK"}`),
		"GET " + asBase + "/sheets/{sheet}/evidence/{ev}":    both(sheet+"/evidence/"+ids.evidence, ""),
		"DELETE " + asBase + "/sheets/{sheet}/evidence/{ev}": both(sheet+"/evidence/"+ids.evidence, ""),
		"POST " + asBase + "/sheets/{sheet}/sign":            both(sheet+"/sign", `{"name":"乗っ取り"}`),
		"POST " + asBase + "/sheets/{sheet}/reopen":          both(sheet+"/reopen", `{}`),
		"GET " + asBase + "/sheets/{sheet}/report":           both(sheet+"/report?format=pdf", ""),
		"GET " + asBase + "/vendor-requests": {
			{name: "A's", path: "/api/v1/orgs/" + a + "/assess/vendor-requests"},
			{name: "own", path: "/api/v1/orgs/" + b + "/assess/vendor-requests", collection: true},
		},
		"POST " + asBase + "/vendor-requests": {
			{name: "into A", path: "/api/v1/orgs/" + a + "/assess/vendor-requests", body: `{"vendor_id":"x","edition_id":"mhlw-r7-vendor","fiscal_year":2025}`},
			{name: "A's vendor from B", path: "/api/v1/orgs/" + b + "/assess/vendor-requests", collection: true, status: http.StatusBadRequest,
				body: `{"vendor_id":"` + ids.vendor + `","edition_id":"mhlw-r7-vendor","fiscal_year":2025}`},
		},
		"GET " + asBase + "/surveys": {
			{name: "A's", path: "/api/v1/orgs/" + a + "/assess/surveys"},
			{name: "own", path: "/api/v1/orgs/" + b + "/assess/surveys", collection: true},
		},
		"POST " + asBase + "/surveys": {
			{name: "as A", path: "/api/v1/orgs/" + a + "/assess/surveys", body: `{"edition":"x"}`},
			{name: "not an operator", path: "/api/v1/orgs/" + b + "/assess/surveys", body: `{"edition":"x"}`, collection: true, status: http.StatusForbidden},
		},
		"GET " + asBase + "/surveys/{survey}":            both(survey, ""),
		"GET " + asBase + "/surveys/{survey}/results":    both(survey+"/results", ""),
		"POST " + asBase + "/surveys/{survey}/remind":    both(survey+"/remind", `{}`),
		"GET " + asBase + "/surveys/{survey}/response":   both(survey+"/response", ""),
		"PUT " + asBase + "/surveys/{survey}/response":   both(survey+"/response", `{"answers":[{"item_id":"offline","cell":"","value":"no"}]}`),
		"GET " + asBase + "/surveys/{survey}/comparison": both(survey+"/comparison", ""),
		"POST " + asBase + "/surveys/{survey}/close":     both(survey+"/close", `{}`),
		"GET " + asBase + "/inbox": {
			{name: "A's", path: "/api/v1/orgs/" + a + "/assess/inbox"},
			{name: "own", path: "/api/v1/orgs/" + b + "/assess/inbox", collection: true},
		},
		"POST " + asBase + "/inbox/{request}/answer": both("/inbox/"+ids.vendor+"/answer", `{}`),
		"GET /api/v1/assess/overview":                {{name: "not an operator", path: "/api/v1/assess/overview?family=mhlw-institution&year=2025"}},
	}
}

// TestAssessAPI fills, evidences, signs and downloads a sheet through the
// API, refuses bad answers without saving anything, and runs a survey from
// the operator's side and the member's side.
func TestAssessAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		base := "/api/v1/orgs/" + f.orgA.ID + "/assess"
		rec := f.do(t, "GET", "/api/v1/assess/editions", f.staffA.read, "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "mhlw-r7-institution") {
			t.Fatalf("editions: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "POST", base+"/sheets", f.staffA.read, `{"edition_id":"mhlw-r7-institution","fiscal_year":2025}`)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("read-only token started a sheet: %d", rec.Code)
		}
		rec = f.do(t, "POST", base+"/sheets", f.staffA.write, `{"edition_id":"mhlw-r7-institution","fiscal_year":2025}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("start: %d %s", rec.Code, rec.Body)
		}
		sh := decodeBody[map[string]any](t, rec)
		sheet := base + "/sheets/" + sh["id"].(string)

		// A target outside the fiscal year: 400 naming the field, nothing saved.
		rec = f.do(t, "PUT", sheet+"/answers", f.staffA.write, `{"answers":[{"item_id":"has_system","cell":"","answer1":"yes","date1":"2025-04-01"},
			{"item_id":"patch","cell":"general","answer1":"no","date1":"2025-04-01","target":"2026-04-01"}]}`)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"field":"target.patch.general"`) {
			t.Fatalf("bad target: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", sheet, f.staffA.read, "")
		if got := decodeBody[map[string]any](t, rec); len(got["answers"].([]any)) != 0 {
			t.Fatalf("partial save: %v", got["answers"])
		}
		rec = f.do(t, "PUT", sheet+"/answers", f.staffA.write, `{"answers":[{"item_id":"has_system","cell":"","answer1":"no","date1":"2025-04-01"}]}`)
		if rec.Code != 200 {
			t.Fatalf("answer: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "PUT", sheet+"/answers", f.staffA.write, `{"answers":[{"item_id":"patch","cell":"general","answer1":"yes","date1":"2025-04-01"}]}`)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "answer1.patch.general") {
			t.Fatalf("answer on a gated-off item: %d %s", rec.Code, rec.Body)
		}

		body := `{"item_id":"has_system","name":"体制.pdf","content_base64":"` + base64.StdEncoding.EncodeToString(minimalPDF) + `","note":"体制図"}`
		rec = f.do(t, "POST", sheet+"/evidence", f.staffA.write, body)
		if rec.Code != http.StatusCreated {
			t.Fatalf("evidence: %d %s", rec.Code, rec.Body)
		}
		ev := decodeBody[map[string]any](t, rec)
		rec = f.do(t, "GET", sheet+"/evidence/"+ev["id"].(string), f.staffA.read, "")
		if rec.Code != 200 || rec.Body.String() != string(minimalPDF) {
			t.Fatalf("evidence download: %d", rec.Code)
		}
		rec = f.do(t, "POST", sheet+"/evidence", f.staffA.write, `{"item_id":"nope","name":"a.pdf","content_base64":"`+base64.StdEncoding.EncodeToString(minimalPDF)+`"}`)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("evidence on unknown item: %d %s", rec.Code, rec.Body)
		}

		rec = f.do(t, "POST", sheet+"/sign", f.staffA.write, `{"name":"職員"}`)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("staff signed: %d", rec.Code)
		}
		rec = f.do(t, "POST", sheet+"/sign", f.adminA.write, `{"name":"院長 山田"}`)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "院長 山田") {
			t.Fatalf("sign: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", sheet+"/report?format=pdf", f.staffA.read, "")
		if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "%PDF-") {
			t.Fatalf("report: %d", rec.Code)
		}
		rec = f.do(t, "GET", sheet+"/report?format=doc", f.staffA.read, "")
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("bad format: %d", rec.Code)
		}
		rec = f.do(t, "POST", sheet+"/reopen", f.adminA.write, `{}`)
		if rec.Code != 200 {
			t.Fatalf("reopen: %d %s", rec.Code, rec.Body)
		}

		// Survey: operator creates, A responds and compares, operator reads.
		opBase := "/api/v1/orgs/" + f.isac.ID + "/assess"
		rec = f.do(t, "POST", opBase+"/surveys", f.op.write, `{"edition":`+jsonString(apiSurvey)+`,"filter":{"kinds":["hospital"]},"due_on":"2025-05-31"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("survey: %d %s", rec.Code, rec.Body)
		}
		s := decodeBody[map[string]any](t, rec)
		if s["targets"].(float64) != 1 {
			t.Errorf("targets %v", s["targets"])
		}
		sid := s["id"].(string)
		if rec = f.do(t, "GET", opBase+"/sheets", f.op.read, ""); rec.Code != http.StatusNotFound {
			t.Errorf("operator reads sheets: %d", rec.Code)
		}
		rec = f.do(t, "PUT", base+"/surveys/"+sid+"/response", f.staffA.write, `{"answers":[{"item_id":"offline","cell":"","value":"yes"}]}`)
		if rec.Code != 200 {
			t.Fatalf("respond: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", base+"/surveys/"+sid+"/comparison?kind=hospital&min_beds=100&max_beds=199", f.staffA.read, "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"hidden":true`) || !strings.Contains(rec.Body.String(), `"own":[{"item_id":"offline"`) {
			t.Fatalf("comparison: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", opBase+"/surveys/"+sid+"/results", f.op.read, "")
		if rec.Code != 200 || strings.Contains(rec.Body.String(), `"buckets"`) {
			t.Fatalf("results show a group of 1: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", opBase+"/surveys", f.op.read, "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"responded":1`) {
			t.Fatalf("survey list: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "POST", opBase+"/surveys/"+sid+"/remind", f.op.write, `{}`)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"reminded":0`) {
			t.Fatalf("remind: %d %s", rec.Code, rec.Body)
		}
	})
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
