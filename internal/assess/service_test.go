package assess

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/xlsx"
)

// entries returns the actions of orgID's log, oldest first.
func entries(t *testing.T, log *audit.Log, orgID string) []audit.Entry {
	t.Helper()
	es, err := log.List(context.Background(), orgID, audit.Filter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// List answers newest first.
	for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
		es[i], es[j] = es[j], es[i]
	}
	return es
}

// newTestService returns a service on d whose clock stands at testNow, and
// its audit log.
func newTestService(d *db.DB) (*Service, *audit.Log) {
	now := func() time.Time { return testNow }
	log := audit.New(d, nil, nil, now)
	return NewService(d, log, MustRegistry(), i18n.MustLoad(), nil, "https://medisac.example.jp", now), log
}

// eachService runs fn on each database with a service and its audit log.
func eachService(t *testing.T, fn func(t *testing.T, ctx context.Context, d *db.DB, svc *Service, log *audit.Log)) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		svc, log := newTestService(d)
		fn(t, context.Background(), d, svc, log)
	})
}

// memberOf is a principal for the user id with email and role in org.
func memberOf(org *auth.Org, id, email string, role auth.Role) *auth.Principal {
	return &auth.Principal{UserID: id, Email: email, OrgID: org.ID, OrgName: org.Name, OrgKind: org.Kind, Role: role}
}

// TestServiceSheets: each change is allowed by the permission table or
// refused without writing anything; each allowed change leaves exactly
// one entry in the organisation's log, naming the sheet and the door.
func TestServiceSheets(t *testing.T) {
	eachService(t, func(t *testing.T, ctx context.Context, d *db.DB, svc *Service, log *audit.Log) {
		a := mkOrg(t, d, auth.KindHospital, "A病院")
		b := mkOrg(t, d, auth.KindHospital, "B病院")
		admin := memberOf(a, "u-admin", "admin@a.example.jp", auth.RoleAdmin)
		admin.DisplayName, admin.Via = "院長", audit.ViaWeb
		staff := memberOf(a, "u-staff", "staff@a.example.jp", auth.RoleStaff)
		staff.Via, staff.TokenID, staff.TokenWrite = audit.ViaAPI, "t1", true
		auditor := memberOf(a, "u-aud", "aud@a.example.jp", auth.RoleAuditor)
		other := memberOf(b, "u-b", "admin@b.example.jp", auth.RoleAdmin)

		if _, _, err := svc.CreateSheet(ctx, auditor, a.ID, "mhlw-r7-institution", 2025); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("auditor started a sheet: %v", err)
		}
		if _, _, err := svc.CreateSheet(ctx, other, a.ID, "mhlw-r7-institution", 2025); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("B started A's sheet: %v", err)
		}
		if _, _, err := svc.CreateSheet(ctx, staff, a.ID, "no-such-edition", 2025); apperr.From(err).Field != "edition" {
			t.Fatalf("unknown edition: %v", err)
		}
		if n := len(entries(t, log, a.ID)); n != 0 {
			t.Fatalf("refusals wrote %d entries", n)
		}
		sh, e, err := svc.CreateSheet(ctx, staff, a.ID, "mhlw-r7-institution", 2025)
		if err != nil {
			t.Fatal(err)
		}
		var all []Answer
		for _, it := range e.Items() {
			for _, c := range it.CellIDs() {
				a := Answer{ItemID: it.ID, Cell: c, Value: fillValue(it)}
				if it.Type == TypeCheck || it.Type == "" {
					a.Answer1, a.Date1 = AnsYes, "2025-06-01"
				}
				all = append(all, a)
			}
		}
		if _, _, err := svc.SaveAnswers(ctx, other, a.ID, sh.ID, all); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("B answered A's sheet: %v", err)
		}
		if _, _, err := svc.SaveAnswers(ctx, staff, a.ID, sh.ID, nil); apperr.From(err).Field != "answers" {
			t.Fatalf("no answers: %v", err)
		}
		if _, _, err := svc.SaveAnswers(ctx, staff, a.ID, sh.ID, all); err != nil {
			t.Fatal(err)
		}
		ev, err := svc.AddEvidence(ctx, staff, a.ID, sh.ID, "has_system", EvidenceInput{Name: "手順.txt", Data: []byte("手順\n")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddEvidence(ctx, staff, a.ID, sh.ID, "no-such-item", EvidenceInput{LinkType: "url", LinkRef: "https://example.jp"}); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("evidence on an unknown item: %v", err)
		}
		if _, _, err := svc.EvidenceFile(ctx, other, a.ID, sh.ID, ev.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("B read A's file: %v", err)
		}
		if f, data, err := svc.EvidenceFile(ctx, auditor, a.ID, sh.ID, ev.ID); err != nil || f.Name != "手順.txt" || string(data) != "手順\n" {
			t.Fatalf("auditor reads the file: %v", err)
		}
		if _, err := svc.DeleteEvidence(ctx, auditor, a.ID, sh.ID, ev.ID); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("auditor deleted evidence: %v", err)
		}
		if _, err := svc.DeleteEvidence(ctx, staff, a.ID, sh.ID, ev.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Sign(ctx, staff, a.ID, sh.ID, "職員"); apperr.From(err).Key != "assess.sign.admin_only" {
			t.Fatalf("staff signed: %v", err)
		}
		long := string(bytes.Repeat([]byte("あ"), MaxSignerName+1))
		if _, _, err := svc.Sign(ctx, admin, a.ID, sh.ID, long); apperr.From(err).Field != "name" {
			t.Fatalf("long name: %v", err)
		}
		signed, _, err := svc.Sign(ctx, admin, a.ID, sh.ID, "  ")
		if err != nil || signed.SignedName != "院長" {
			t.Fatalf("sign with the display name: %v %+v", err, signed)
		}
		if _, _, err := svc.Reopen(ctx, staff, a.ID, sh.ID); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("staff reopened: %v", err)
		}
		if got, _, err := svc.Reopen(ctx, admin, a.ID, sh.ID); err != nil || got.Signed() {
			t.Fatalf("reopen: %v", err)
		}
		if err := svc.Share(ctx, staff, a.ID, sh.ID, true); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("staff shared: %v", err)
		}
		if err := svc.Share(ctx, admin, a.ID, sh.ID, true); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, _, err := svc.Export(ctx, auditor, a.ID, sh.ID, "doc", &buf); apperr.From(err).Field != "format" || buf.Len() != 0 {
			t.Fatalf("export as doc: %v", err)
		}
		got, ge, err := svc.Export(ctx, auditor, a.ID, sh.ID, FormatXLSX, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if name := ReportName(ge, got, FormatXLSX); name != "mhlw-r7-institution-2025.xlsx" {
			t.Errorf("report name %q", name)
		}
		if book, err := xlsx.Read(buf.Bytes(), xlsx.Limits{}); err != nil || len(book) != 2 {
			t.Fatalf("exported workbook: %v", err)
		}

		type key struct{ action, typ, id, via string }
		want := []key{
			{"assess.sheet.create", "assess_sheet", sh.ID, "api"},
			{"assess.answer.save", "assess_sheet", sh.ID, "api"},
			{"assess.evidence.add", "assess_sheet", sh.ID, "api"},
			{audit.ActionSensitiveRead, "assess_file", ev.File.ID, ""},
			{"assess.evidence.delete", "assess_sheet", sh.ID, "api"},
			{"assess.sheet.sign", "assess_sheet", sh.ID, "web"},
			{"assess.sheet.reopen", "assess_sheet", sh.ID, "web"},
			{"assess.sheet.share", "assess_sheet", sh.ID, "web"},
			{audit.ActionDataExport, "assess_sheet", sh.ID, ""},
		}
		es := entries(t, log, a.ID)
		if len(es) != len(want) {
			for _, e := range es {
				t.Logf("%s %s %s", e.Action, e.ObjectType, e.ObjectID)
			}
			t.Fatalf("%d entries, want %d", len(es), len(want))
		}
		for i, e := range es {
			via, _ := e.Details["via"].(string)
			if got := (key{e.Action, e.ObjectType, e.ObjectID, via}); got != want[i] || e.OrgID != a.ID || e.Outcome != audit.Success {
				t.Errorf("entry %d: %+v in %s, want %+v", i, got, e.OrgID, want[i])
			}
		}
		if es[1].ActorID != "u-staff" || es[1].Details["token_id"] != "t1" {
			t.Errorf("answer entry names %s, token %v", es[1].ActorID, es[1].Details["token_id"])
		}
		if n := len(entries(t, log, b.ID)); n != 0 {
			t.Errorf("B's log has %d entries", n)
		}
	})
}

// TestServiceSurveysAndEditions: surveys are the ISAC operators'; others
// are told so and nothing is written; the command line may load editions,
// no one else.
func TestServiceSurveysAndEditions(t *testing.T) {
	eachService(t, func(t *testing.T, ctx context.Context, d *db.DB, svc *Service, log *audit.Log) {
		isac := mkOrg(t, d, auth.KindISAC, "ISAC")
		a := mkOrg(t, d, auth.KindHospital, "A病院")
		op := memberOf(isac, "u-op", "op@isac.example.jp", auth.RoleStaff)
		hosp := memberOf(a, "u-a", "admin@a.example.jp", auth.RoleAdmin)
		src := []byte("id: svc-survey\nkind: survey\ntitle: 調査\nfiscal_year: 2025\nsections:\n  - id: s\n    title: S\n    items:\n      - {id: offline, text: オフラインのバックアップがある, type: yesno}\n")
		if _, err := svc.CreateSurvey(ctx, hosp, a.ID, src, OrgFilter{}, ""); apperr.From(err).Key != "assess.survey.operator_only" {
			t.Fatalf("hospital created a survey: %v", err)
		}
		sv, err := svc.CreateSurvey(ctx, op, isac.ID, src, OrgFilter{Kinds: []string{"hospital"}}, "")
		if err != nil || sv.Targets != 1 {
			t.Fatalf("create: %v %+v", err, sv)
		}
		if _, err := svc.CloseSurvey(ctx, hosp, a.ID, sv.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("hospital closed the survey: %v", err)
		}
		if _, _, err := svc.Respond(ctx, hosp, a.ID, sv.ID, []Answer{{ItemID: "offline", Value: AnsYes}}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CloseSurvey(ctx, op, isac.ID, sv.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CloseSurvey(ctx, op, isac.ID, sv.ID); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("closed twice: %v", err)
		}
		if _, err := svc.LoadEdition(ctx, op, "", "x.yaml", src, false); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("an operator loaded an edition: %v", err)
		}
		ed := bytes.Replace(src, []byte("svc-survey"), []byte("svc-loaded"), 1)
		if e, err := svc.LoadEdition(ctx, auth.CommandLine("root", ""), "", "x.yaml", ed, false); err != nil || e.ID != "svc-loaded" {
			t.Fatalf("command line load: %v", err)
		}
		var got []string
		for _, e := range entries(t, log, isac.ID) {
			got = append(got, e.Action+" "+e.ObjectID)
		}
		if want := []string{"assess.survey.create " + sv.ID, "assess.survey.close " + sv.ID}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("ISAC's log %v", got)
		}
		es := entries(t, log, a.ID)
		if len(es) != 1 || es[0].Action != "assess.survey.respond" || es[0].ObjectID != sv.ID {
			t.Errorf("hospital's log %+v", es)
		}
		var action, actor, details string
		if err := d.QueryRow(ctx, `SELECT action, actor, details FROM audit_log WHERE object_id = ?`, "svc-loaded").Scan(&action, &actor, &details); err != nil {
			t.Fatal(err)
		}
		if action != "assess.edition.load" || actor != "cli:root" || !strings.Contains(details, `"via":"cli"`) {
			t.Errorf("load entry %s %s %s", action, actor, details)
		}
	})
}

// fillValue is a valid value answer for an item that takes one.
func fillValue(it *Item) string {
	switch it.Type {
	case TypeYesNo:
		return AnsYes
	case TypeDate, TypeTargetDate:
		return "2025-06-01"
	case TypeChoice, TypeMulti:
		return it.Options[0].ID
	case TypeNumber:
		return "1"
	case TypeCheck, "":
		return ""
	}
	return "回答"
}
