package app

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// The checklists' actions through the web pages and the API.

func init() {
	var n int
	next := func() int { n++; return n }
	// Each door gets its own sheet: another subject of the current year's.
	sheet := func(w *parityWorld) string {
		e := paritySheetEdition(w)
		var id string
		w.tx(func(ctx context.Context, tx *db.Tx) error {
			sh, err := assess.StartSheet(ctx, tx, e, w.Hospital, assess.FiscalYearOf(w.now), fmt.Sprintf("対象%d", next()), w.now)
			if err == nil {
				id = sh.ID
			}
			return err
		})
		return id
	}
	filled := func(w *parityWorld) string {
		id := sheet(w)
		e := paritySheetEdition(w)
		w.tx(func(ctx context.Context, tx *db.Tx) error {
			_, err := assess.SaveAnswers(ctx, tx, e, w.Hospital, id, w.users["hospital_admin"].ID, seed.Answers(e, assess.Today(w.now)), w.now)
			return err
		})
		return id
	}
	signed := func(w *parityWorld) string {
		id := filled(w)
		e := paritySheetEdition(w)
		p := &auth.Principal{UserID: w.users["hospital_admin"].ID, OrgID: w.Hospital, OrgKind: auth.KindHospital, Role: auth.RoleAdmin}
		w.tx(func(ctx context.Context, tx *db.Tx) error {
			_, err := assess.Sign(ctx, tx, e, p, w.Hospital, id, "院長", w.now)
			return err
		})
		return id
	}
	asBase := func(w *parityWorld) string { return "/api/v1/orgs/" + w.Hospital + "/assess" }
	today := func(w *parityWorld) string { return assess.Today(w.now) }

	parityCases = append(parityCases,
		parityCase{
			Name: "assess.sheet.create", Rule: "assess.sheet.create", As: "hospital_admin",
			Web: func(w *parityWorld, _ string) string {
				_, loc := w.Form("/assess", "/assess/sheets", url.Values{"edition": {"mhlw-r7-institution"}, "year": {strconv.Itoa(2040 + next())}})
				return strings.TrimPrefix(loc, "/assess/sheets/")
			},
			API: func(w *parityWorld, _ string) string {
				var out struct{ ID string }
				w.Call("POST", asBase(w)+"/sheets", map[string]any{"edition_id": "mhlw-r7-institution", "fiscal_year": 2040 + next()}, &out)
				return out.ID
			},
		},
		parityCase{
			Name: "assess.answer.save", Rule: "assess.answer.save", As: "hospital_admin", Setup: sheet,
			Web: func(w *parityWorld, id string) string {
				w.Form("/assess", "/assess/sheets/"+id+"/items/has_system", url.Values{"answer1.": {"yes"}, "date1.": {today(w)}})
				return id
			},
			API: func(w *parityWorld, id string) string {
				w.Call("PUT", asBase(w)+"/sheets/"+id+"/answers", map[string]any{"answers": []map[string]any{{"item_id": "has_system", "answer1": "yes", "date1": today(w)}}}, nil)
				return id
			},
		},
		parityCase{
			Name: "assess.evidence.add", Rule: "assess.evidence.add", As: "hospital_admin", Setup: sheet,
			Web: webForm("/assess", "/assess/sheets/{obj}/items/has_system/evidence", url.Values{"link_type": {"url"}, "link_ref": {"https://example.jp/手順"}, "note": {"手順書"}}),
			API: apiCall("POST", "/api/v1/orgs/{hospital}/assess/sheets/{obj}/evidence", map[string]any{"item_id": "has_system", "link_type": "url", "link_ref": "https://example.jp/手順", "note": "手順書"}),
		},
		parityCase{
			Name: "assess.evidence.delete", Rule: "assess.evidence.delete", As: "hospital_admin",
			Setup: func(w *parityWorld) string {
				id := sheet(w)
				e := paritySheetEdition(w)
				var ev string
				w.tx(func(ctx context.Context, tx *db.Tx) error {
					x, err := assess.AddEvidence(ctx, tx, e, w.Hospital, id, "has_system", w.users["hospital_admin"].ID, assess.EvidenceInput{Name: "証跡.txt", Data: []byte("x\n")}, w.now)
					if err == nil {
						ev = x.ID
					}
					return err
				})
				return id + "/" + ev
			},
			Web: func(w *parityWorld, obj string) string {
				id, ev, _ := strings.Cut(obj, "/")
				w.Form("/assess", "/assess/sheets/"+id+"/evidence/"+ev+"/delete", nil)
				return id
			},
			API: func(w *parityWorld, obj string) string {
				id, ev, _ := strings.Cut(obj, "/")
				w.Call("DELETE", asBase(w)+"/sheets/"+id+"/evidence/"+ev, nil, nil)
				return id
			},
		},
		parityCase{
			Name: "assess.sheet.sign", Rule: "assess.sheet.sign", As: "hospital_admin", Setup: filled,
			Web: webForm("/assess", "/assess/sheets/{obj}/sign", url.Values{"name": {"院長"}}),
			API: apiCall("POST", "/api/v1/orgs/{hospital}/assess/sheets/{obj}/sign", map[string]any{"name": "院長"}),
		},
		parityCase{
			Name: "assess.sheet.reopen", Rule: "assess.sheet.reopen", As: "hospital_admin", Setup: signed,
			Web: webForm("/assess", "/assess/sheets/{obj}/reopen", nil),
			API: apiCall("POST", "/api/v1/orgs/{hospital}/assess/sheets/{obj}/reopen", nil),
		},
	)

	// Surveys: the ISAC's, sent to hospitals.
	surveyYAML := func() string {
		return fmt.Sprintf("id: parity-survey-%d\nkind: survey\ntitle: 調査\nfiscal_year: 2026\nsections:\n  - id: s\n    title: S\n    items:\n      - {id: offline, text: オフラインのバックアップがある, type: yesno}\n", next())
	}
	survey := func(w *parityWorld) string {
		var id string
		w.tx(func(ctx context.Context, tx *db.Tx) error {
			s, err := assess.CreateSurvey(ctx, tx, w.n.Assess.Registry, w.ISAC, w.users["isac_admin"].ID, []byte(surveyYAML()),
				assess.OrgFilter{Kinds: []string{"hospital"}}, "", w.now)
			if err == nil {
				id = s.ID
			}
			return err
		})
		return id
	}
	svBase := func(w *parityWorld) string { return "/api/v1/orgs/" + w.ISAC + "/assess/surveys" }
	parityCases = append(parityCases,
		parityCase{
			Name: "assess.survey.create", Rule: "assess.survey.create", As: "isac_admin",
			Web: func(w *parityWorld, _ string) string {
				_, loc := w.Form("/assess/surveys", "/assess/surveys", url.Values{"source": {surveyYAML()}, "kind": {"hospital"}})
				return strings.TrimPrefix(loc, "/assess/surveys/")
			},
			API: func(w *parityWorld, _ string) string {
				var out struct{ ID string }
				w.Call("POST", svBase(w), map[string]any{"edition": surveyYAML(), "filter": map[string]any{"kinds": []string{"hospital"}}}, &out)
				return out.ID
			},
		},
		parityCase{
			Name: "assess.survey.close", Rule: "assess.survey.close", As: "isac_admin", Setup: survey,
			Web: webForm("/assess/surveys", "/assess/surveys/{obj}/close", nil),
			API: apiCall("POST", "/api/v1/orgs/{isac}/assess/surveys/{obj}/close", nil),
		},
		parityCase{
			Name: "assess.survey.remind", Rule: "assess.survey.remind", As: "isac_admin", Setup: survey,
			Web: webForm("/assess/surveys", "/assess/surveys/{obj}/remind", nil),
			API: apiCall("POST", "/api/v1/orgs/{isac}/assess/surveys/{obj}/remind", nil),
		},
		parityCase{
			Name: "assess.survey.respond", Rule: "assess.survey.respond", As: "hospital_admin", Setup: survey,
			Web: webForm("/assess", "/assess/surveys/{obj}/respond", url.Values{"value.offline.": {"yes"}}),
			API: apiCall("PUT", "/api/v1/orgs/{hospital}/assess/surveys/{obj}/response", map[string]any{"answers": []map[string]any{{"item_id": "offline", "value": "yes"}}}),
		},
	)

	// Vendor requests: the hospital asks an inventory vendor; the vendor
	// organisation answers from its own sheet.
	vendor := func(w *parityWorld, linked bool) string {
		in := inventory.Vendor{Name: fmt.Sprintf("港医療システム%d", next()), Email: "support@minato-sys.jp"}
		if linked {
			in.MedisacOrgID = w.parityVendorOrg()
		}
		var id string
		w.tx(func(ctx context.Context, tx *db.Tx) error {
			v, err := inventory.CreateVendor(ctx, tx, w.Hospital, in, w.now)
			if err == nil {
				id = v.ID
			}
			return err
		})
		return id
	}
	requestOf := func(w *parityWorld, vendorID string) string {
		var id string
		if err := w.DB().QueryRow(w.ctx, `SELECT id FROM assess_vendor_requests WHERE org_id = ? AND vendor_id = ?`, w.Hospital, vendorID).Scan(&id); err != nil {
			w.t.Fatal(err)
		}
		return id
	}
	fy := func(w *parityWorld) int { return assess.FiscalYearOf(w.now) }
	parityCases = append(parityCases,
		parityCase{
			Name: "assess.vendor.request", Rule: "assess.vendor.request", As: "hospital_admin",
			Setup: func(w *parityWorld) string { return vendor(w, false) },
			Web: func(w *parityWorld, vid string) string {
				w.Form("/assess", "/assess/vendors", url.Values{"vendor": {vid}, "edition": {"mhlw-r7-vendor"}, "year": {strconv.Itoa(fy(w))}})
				return requestOf(w, vid)
			},
			API: func(w *parityWorld, vid string) string {
				var out struct{ ID string }
				w.Call("POST", asBase(w)+"/vendor-requests", map[string]any{"vendor_id": vid, "edition_id": "mhlw-r7-vendor", "fiscal_year": fy(w)}, &out)
				return out.ID
			},
		},
		parityCase{
			Name: "assess.vendor.answer from the vendor's own sheet", Rule: "assess.vendor.answer", As: "vendor_admin",
			Setup: func(w *parityWorld) string {
				vid := vendor(w, true)
				var id string
				w.tx(func(ctx context.Context, tx *db.Tx) error {
					r, _, err := assess.RequestVendorSheet(ctx, tx, w.n.Assess.Registry, w.Hospital, w.users["hospital_admin"].ID,
						assess.VendorRequestInput{VendorID: vid, EditionID: "mhlw-r7-vendor", FiscalYear: fy(w)}, w.now)
					if err == nil {
						id = r.ID
					}
					return err
				})
				return id
			},
			Web: func(w *parityWorld, id string) string {
				w.Form(assess.InboxPath, assess.InboxPath+"/"+id+"/answer", nil)
				return id
			},
			API: func(w *parityWorld, id string) string {
				w.Call("POST", "/api/v1/orgs/"+w.parityVendorOrg()+"/assess/inbox/"+id+"/answer", map[string]any{}, nil)
				return id
			},
		},
	)
}

// tx runs fn in a transaction of the node's database; the test fails on
// its error.
func (w *parityWorld) tx(fn func(ctx context.Context, tx *db.Tx) error) {
	w.t.Helper()
	if err := w.n.DB.InTx(w.ctx, func(tx *db.Tx) error { return fn(w.ctx, tx) }); err != nil {
		w.t.Fatal(err)
	}
}

// paritySheetEdition is the institutions' checklist.
func paritySheetEdition(w *parityWorld) *assess.Edition {
	w.t.Helper()
	e, err := w.n.Assess.Registry.Get(w.ctx, w.n.DB, w.Hospital, "mhlw-r7-institution")
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

// parityVendorOrg is the vendor organisation of the world (its admin is
// "vendor_admin"), whose own vendor checklist of the year is complete.
func (w *parityWorld) parityVendorOrg() string {
	w.t.Helper()
	u := w.users["vendor_admin"]
	if u == nil {
		w.t.Fatal("no vendor organisation")
	}
	return u.OrgID
}

// addParityVendor adds the vendor organisation, its admin and its
// complete vendor checklist of the year to w.
func addParityVendor(w *parityWorld) {
	t := w.t
	v, err := auth.CreateOrg(w.ctx, w.n.DB, auth.OrgInput{Kind: auth.KindVendor, Name: "同一記録保守会社"}, w.now)
	if err != nil {
		t.Fatal(err)
	}
	u := w.addUser("vendor_admin", "admin@parity-vendor.jp", v.ID, auth.RoleAdmin)
	e, err := w.n.Assess.Registry.Get(w.ctx, w.n.DB, v.ID, "mhlw-r7-vendor")
	if err != nil {
		t.Fatal(err)
	}
	seed.FilledSheet(t, w.n.DB, e, v.ID, u.ID, assess.FiscalYearOf(w.now), assess.Today(w.now), w.now)
}
