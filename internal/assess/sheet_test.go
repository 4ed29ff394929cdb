package assess

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
)

var testNow = time.Date(2025, 7, 1, 3, 0, 0, 0, time.UTC)

func mkOrg(t testing.TB, d db.Querier, kind auth.OrgKind, name string) *auth.Org {
	t.Helper()
	o, err := auth.CreateOrg(context.Background(), d, auth.OrgInput{Kind: kind, Name: name, Prefecture: "東京都"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func r7(t testing.TB) *Edition {
	t.Helper()
	e, err := MustRegistry().Get(context.Background(), nil, "", "mhlw-r7-institution")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// twoHospitals makes hospitals A and B and starts A's 2025 sheet of the
// R7 edition.
func twoHospitals(t testing.TB, d *db.DB) (e *Edition, a, b *auth.Org, s *Sheet) {
	t.Helper()
	e = r7(t)
	a = mkOrg(t, d, auth.KindHospital, "A病院")
	b = mkOrg(t, d, auth.KindHospital, "B病院")
	s, err := StartSheet(context.Background(), d, e, a.ID, 2025, "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	return e, a, b, s
}

func TestValidate(t *testing.T) {
	e := r7(t)
	yes := Answer{ItemID: "has_system", Answer1: AnsYes, Date1: "2025-06-01"}
	cases := []struct {
		name  string
		in    []Answer
		field string
		key   string
	}{
		{"ok yes", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsYes, Date1: "2025-06-01"}}, "", ""},
		{"ok no with target", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsNo, Date1: "2025-06-01", Target: "2026-03-31"}}, "", ""},
		{"ok second check", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsNo, Date1: "2025-06-01", Target: "2025-12-01", Answer2: AnsYes, Date2: "2025-06-30"}}, "", ""},
		{"ok 2FA target in FY2027", []Answer{yes, {ItemID: "two_factor", Cell: "general", Answer1: AnsNo, Date1: "2025-06-01", Target: "2028-03-31"}}, "", ""},
		{"ok na where allowed", []Answer{yes, {ItemID: "remote_maintenance", Cell: "general", Answer1: AnsNA, Date1: "2025-06-01"}}, "", ""},
		{"missing date", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsYes}}, "date1", "assess.problem.date_missing"},
		{"date without answer", []Answer{yes, {ItemID: "patch", Cell: "general", Date1: "2025-06-01"}}, "answer1", "assess.problem.answer_missing"},
		{"no without target", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsNo, Date1: "2025-06-01"}}, "target", "assess.problem.target_missing"},
		{"target after FY", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsNo, Date1: "2025-06-01", Target: "2026-04-01"}}, "target", "assess.problem.target_outside_fy"},
		{"target before FY", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsNo, Date1: "2025-06-01", Target: "2025-03-31"}}, "target", "assess.problem.target_outside_fy"},
		{"2FA target after FY2027", []Answer{yes, {ItemID: "two_factor", Cell: "general", Answer1: AnsNo, Date1: "2025-06-01", Target: "2028-04-01"}}, "target", "assess.problem.target_outside_fy"},
		{"target on yes", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsYes, Date1: "2025-06-01", Target: "2025-12-01"}}, "target", "assess.problem.target_only_for_no"},
		{"future date", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsYes, Date1: "2025-07-02"}}, "date1", "assess.problem.date_future"},
		{"bad date", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsYes, Date1: "R7.6.1"}}, "date1", "assess.problem.date_invalid"},
		{"na not allowed", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsNA, Date1: "2025-06-01"}}, "answer1", "assess.problem.answer_invalid"},
		{"unknown cell", []Answer{yes, {ItemID: "patch", Cell: "server", Answer1: AnsYes, Date1: "2025-06-01"}}, "cell", "assess.problem.unknown_cell"},
		{"unknown item", []Answer{{ItemID: "nope", Answer1: AnsYes, Date1: "2025-06-01"}}, "item", "assess.problem.unknown_item"},
		{"second before first", []Answer{yes, {ItemID: "patch", Cell: "general", Answer1: AnsNo, Date1: "2025-06-01", Target: "2025-12-01", Answer2: AnsYes, Date2: "2025-05-01"}}, "date2", "assess.problem.date2_before_date1"},
		{"second without first", []Answer{yes, {ItemID: "patch", Cell: "general", Answer2: AnsYes, Date2: "2025-06-01"}}, "answer1", "assess.problem.second_without_first"},
		{"gated off", []Answer{{ItemID: "has_system", Answer1: AnsNo, Date1: "2025-06-01"}, {ItemID: "manager", Answer1: AnsYes, Date1: "2025-06-01"}}, "answer1", "assess.problem.gated"},
		{"value on check", []Answer{yes, {ItemID: "manager", Value: "x"}}, "value", "assess.problem.value_on_check"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := map[Key]Answer{}
			for _, a := range c.in {
				a.normalize()
				m[a.key()] = a
			}
			ps := e.Validate(2025, m, "2025-07-01")
			if c.key == "" {
				if len(ps) > 0 {
					t.Fatalf("problems: %v", ps)
				}
				return
			}
			if len(ps) == 0 {
				t.Fatalf("no problem, want %s", c.key)
			}
			if ps[0].Field != c.field || ps[0].Key != c.key {
				t.Errorf("got %s %s, want %s %s", ps[0].Field, ps[0].Key, c.field, c.key)
			}
			cat := i18n.MustLoad()
			msg := cat.T("ja", ps[0].Key, ps[0].Args...)
			if c.key != "assess.problem.unknown_item" && !strings.Contains(msg, e.Item(ps[0].ItemID).Number) {
				t.Errorf("message %q does not name the item", msg)
			}
			if strings.Contains(msg, "%!") {
				t.Errorf("message %q has bad arguments", msg)
			}
		})
	}
}

func TestValueTypes(t *testing.T) {
	src := `id: t
kind: survey
title: T
fiscal_year: 2025
sections:
  - id: a
    title: A
    items:
      - {id: yn, text: YN, type: yesno}
      - {id: d, text: D, type: date}
      - {id: td, text: TD, type: target_date}
      - {id: c, text: C, type: choice, options: [{id: a, label: A}, {id: b, label: B}]}
      - {id: m, text: M, type: multi, options: [{id: a, label: A}, {id: b, label: B}]}
      - {id: n, text: N, type: number, min: 0, max: 100}
      - {id: tx, text: TX, type: text, max_len: 5}
`
	e, err := ParseEdition("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		item, value, key string
	}{
		{"yn", "yes", ""}, {"yn", "na", "assess.problem.answer_invalid"},
		{"d", "2025-05-01", ""}, {"d", "2026-01-01", "assess.problem.date_future"},
		{"td", "2026-03-31", ""}, {"td", "2026-04-01", "assess.problem.target_outside_fy"},
		{"c", "b", ""}, {"c", "z", "assess.problem.option_invalid"},
		{"m", "a,b", ""}, {"m", "a,a", "assess.problem.option_invalid"},
		{"n", "42.5", ""}, {"n", "101", "assess.problem.number_range"}, {"n", "many", "assess.problem.number_invalid"},
		{"tx", "あいうえお", ""}, {"tx", "あいうえおか", "assess.problem.text_too_long"},
	}
	for _, c := range cases {
		ps := e.Validate(2025, map[Key]Answer{{c.item, ""}: {ItemID: c.item, Value: c.value}}, "2025-07-01")
		got := ""
		if len(ps) > 0 {
			got = ps[0].Key
		}
		if got != c.key {
			t.Errorf("%s=%q: got %q want %q", c.item, c.value, got, c.key)
		}
	}
}

func TestSheetLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e, a, b, s := twoHospitals(t, d)
		again, err := StartSheet(ctx, d, e, a.ID, 2025, "", testNow)
		if err != nil || again.ID != s.ID {
			t.Fatalf("second start: %v %v", again, err)
		}
		// Another organisation sees nothing.
		if _, err := GetSheet(ctx, d, b.ID, s.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("B reads A's sheet: %v", err)
		}
		save := func(in ...Answer) error {
			return d.InTx(ctx, func(tx *db.Tx) error {
				_, err := SaveAnswers(ctx, tx, e, a.ID, s.ID, "u1", in, testNow)
				return err
			})
		}
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			_, err := SaveAnswers(ctx, tx, e, b.ID, s.ID, "u1", []Answer{{ItemID: "has_system", Answer1: AnsYes, Date1: "2025-06-01"}}, testNow)
			return err
		}); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("B writes A's sheet: %v", err)
		}
		// A bad answer among good ones saves nothing.
		err = save(Answer{ItemID: "has_system", Answer1: AnsYes, Date1: "2025-06-01"},
			Answer{ItemID: "manager", Answer1: AnsYes, Date1: "2025/6/1"},
			Answer{ItemID: "patch", Cell: "general", Answer1: AnsNo, Date1: "2025-06-01", Target: "2026-05-01"})
		var ps Problems
		if !errors.As(err, &ps) || len(ps) != 1 || ps[0].ItemID != "patch" || !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("want one problem on patch, got %v", err)
		}
		got, _ := GetSheet(ctx, d, a.ID, s.ID)
		if len(got.Answers) != 0 {
			t.Fatalf("partial save: %v", got.Answers)
		}
		// Answering the gate with No makes every other item unnecessary.
		if err := save(Answer{ItemID: "has_system", Answer1: AnsNo, Date1: "2025-06-01"}); err != nil {
			t.Fatal(err)
		}
		got, _ = GetSheet(ctx, d, a.ID, s.ID)
		if p := got.Progress(e); !p.Complete() || p.Cells != 1 || p.No != 0 {
			t.Fatalf("gated progress %+v", p)
		}
		if err := save(Answer{ItemID: "manager", Answer1: AnsYes, Date1: "2025-06-01"}); err == nil {
			t.Fatal("answer on a gated-off item saved")
		}
		// Fill every cell, then sign.
		var all []Answer
		all = append(all, Answer{ItemID: "has_system", Answer1: AnsYes, Date1: "2025-06-01"})
		for _, it := range e.Items()[1:] {
			for _, c := range it.CellIDs() {
				all = append(all, Answer{ItemID: it.ID, Cell: c, Answer1: AnsYes, Date1: "2025-06-02"})
			}
		}
		all[len(all)-1].Answer1, all[len(all)-1].Target = AnsNo, "2025-12-31"
		if err := save(all[:5]...); err != nil {
			t.Fatal(err)
		}
		if _, err := Sign(ctx, d, e, signer(a.ID, "u1", true), a.ID, s.ID, "院長", testNow); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("sign incomplete: %v", err)
		}
		if err := save(all...); err != nil {
			t.Fatal(err)
		}
		if _, err := Sign(ctx, d, e, signer(a.ID, "u2", false), a.ID, s.ID, "職員", testNow); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("staff signs: %v", err)
		}
		signed, err := Sign(ctx, d, e, signer(a.ID, "u1", true), a.ID, s.ID, "院長", testNow)
		if err != nil || !signed.Signed() {
			t.Fatalf("sign: %v", err)
		}
		if p := signed.Progress(e); p.No != 1 || p.Percent() != 100 {
			t.Errorf("progress %+v", p)
		}
		if err := save(Answer{ItemID: "manager", Answer1: AnsNo, Date1: "2025-06-03", Target: "2025-09-01"}); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("change after sign-off: %v", err)
		}
		if err := Reopen(ctx, d, signer(b.ID, "u1", true), b.ID, s.ID, testNow); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("B reopens A's sheet: %v", err)
		}
		if err := Reopen(ctx, d, signer(a.ID, "u1", true), a.ID, s.ID, testNow); err != nil {
			t.Fatal(err)
		}

		// Next year: the previous answers are offered as a start and the
		// years compare by item id.
		r8 := *e
		r8.ID, r8.FiscalYear = "mhlw-r8-test", 2026
		next, err := StartSheet(ctx, d, &r8, a.ID, 2026, "", testNow)
		if err != nil {
			t.Fatal(err)
		}
		prev, err := Previous(ctx, d, next)
		if err != nil || prev == nil || prev.ID != s.ID {
			t.Fatalf("previous: %v %v", prev, err)
		}
		start := StartFrom(&r8, prev, "2026-05-01")
		if a := start[Key{"patch", "general"}]; a.Answer1 != AnsYes || a.Date1 != "2026-05-01" || a.Target != "" {
			t.Errorf("start from previous: %+v", a)
		}
		next.Answers = map[Key]Answer{{"patch", "general"}: {Answer1: AnsNo}}
		rows := Compare(&r8, next, e, prev)
		changed := 0
		for _, r := range rows {
			if r.Changed {
				changed++
			}
		}
		if len(rows) != e.CellCount() || changed != e.CellCount() {
			t.Errorf("compare: %d rows, %d changed", len(rows), changed)
		}
		list, err := ListSheets(ctx, d, a.ID, SheetFilter{})
		if err != nil || len(list) != 2 || list[0].FiscalYear != 2026 {
			t.Fatalf("list: %v %v", list, err)
		}
		if list, _ := ListSheets(ctx, d, b.ID, SheetFilter{}); len(list) != 0 {
			t.Fatalf("B lists A's sheets")
		}
	})
}

func TestEvidenceAndHints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e, a, b, s := twoHospitals(t, d)
		pdf := []byte("%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
		ev, err := AddEvidence(ctx, d, e, a.ID, s.ID, "backup", "u1", EvidenceInput{Name: "バックアップ手順.pdf", Data: pdf, Note: "手順書"}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		bad := []struct {
			name string
			in   EvidenceInput
			key  string
		}{
			{"exe renamed", EvidenceInput{Name: "a.pdf", Data: []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00")}, "assess.file.bad_type"},
			{"pdf named png", EvidenceInput{Name: "a.png", Data: pdf}, "assess.file.bad_type"},
			{"too large", EvidenceInput{Name: "a.txt", Data: []byte(strings.Repeat("a", MaxFileSize+1))}, "assess.file.too_large"},
			{"nothing", EvidenceInput{}, "assess.evidence.nothing"},
			{"foreign asset", EvidenceInput{LinkType: "asset", LinkRef: db.NewID()}, "assess.evidence.link_not_found"},
			{"bad url", EvidenceInput{LinkType: "url", LinkRef: "javascript:alert(1)"}, "assess.evidence.link_ref_invalid"},
		}
		for _, c := range bad {
			_, err := AddEvidence(ctx, d, e, a.ID, s.ID, "backup", "u1", c.in, testNow)
			if ae := apperr.From(err); ae == nil || ae.Key != c.key {
				t.Errorf("%s: got %v want %s", c.name, err, c.key)
			}
		}
		asset, err := inventory.CreateAsset(ctx, d, a.ID, "u1", inventory.Asset{Name: "RT-01", Kind: "network", FirmwareCurrent: inventory.No}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := AddEvidence(ctx, d, e, a.ID, s.ID, "register", "u1", EvidenceInput{LinkType: "asset", LinkRef: asset.ID}, testNow); err != nil {
			t.Fatal(err)
		}
		if _, err := AddEvidence(ctx, d, e, b.ID, s.ID, "backup", "u1", EvidenceInput{Name: "x.txt", Data: []byte("x")}, testNow); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("B attaches to A's sheet: %v", err)
		}
		if _, _, err := ReadFile(ctx, d, b.ID, ev.File.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("B reads A's file: %v", err)
		}
		f, data, err := ReadFile(ctx, d, a.ID, ev.File.ID)
		if err != nil || string(data) != string(pdf) || f.ContentType != "application/pdf" {
			t.Fatalf("read back: %v %v", f, err)
		}
		evs, err := ListEvidence(ctx, d, a.ID, s.ID, "")
		if err != nil || len(evs) != 2 {
			t.Fatalf("list: %d %v", len(evs), err)
		}

		hs, err := HintsFor(ctx, d, InventoryHints{}, e, a.ID, s.ID, testNow)
		if err != nil {
			t.Fatal(err)
		}
		var fw *Hint
		for i := range hs {
			if hs[i].ItemID == "patch" {
				fw = &hs[i]
			}
		}
		if fw == nil || fw.Suggest != AnsNo || fw.Args[0] != 1 {
			t.Fatalf("firmware hint: %+v", hs)
		}
		// Hints never answer by themselves.
		got, _ := GetSheet(ctx, d, a.ID, s.ID)
		if len(got.Answers) != 0 {
			t.Fatal("hint answered an item")
		}
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			return DecideHint(ctx, tx, InventoryHints{}, e, a.ID, s.ID, "patch", fw.Key, "accepted", "ネットワーク機器1台が更新待ち", "u1", testNow)
		}); err != nil {
			t.Fatal(err)
		}
		got, _ = GetSheet(ctx, d, a.ID, s.ID)
		if c := got.Answers[Key{"patch", "general"}]; c.Comment != "ネットワーク機器1台が更新待ち" || c.Answer1 != "" {
			t.Errorf("accepted hint: %+v", c)
		}
		hs, _ = HintsFor(ctx, d, InventoryHints{}, e, a.ID, s.ID, testNow)
		for _, h := range hs {
			if h.ItemID == "patch" && h.Decision != "accepted" {
				t.Errorf("decision not kept: %+v", h)
			}
		}
		if _, err := DeleteEvidence(ctx, d, b.ID, s.ID, ev.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("B deletes A's evidence: %v", err)
		}
		if _, err := DeleteEvidence(ctx, d, a.ID, s.ID, ev.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRegistryStoredEdition(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r := MustRegistry()
		isac := mkOrg(t, d, auth.KindISAC, "ISAC")
		src := []byte("id: mhlw-r8-institution\nfamily: mhlw-institution\nkind: institution\ntitle: R8\nfiscal_year: 2026\nsections:\n  - id: s\n    title: S\n    items:\n      - {id: manager, text: 医療情報システム安全管理責任者を設置している。}\n")
		if _, err := r.SaveEdition(ctx, d, "", "u1", "r8.yaml", src, false, testNow); err != nil {
			t.Fatal(err)
		}
		if _, err := r.SaveEdition(ctx, d, "", "u1", "r8.yaml", src, false, testNow); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("second load without replace: %v", err)
		}
		if _, err := r.SaveEdition(ctx, d, "", "u1", "r8.yaml", []byte("id: mhlw-r7-institution\n"), false, testNow); err == nil {
			t.Fatal("broken file stored")
		}
		e, err := r.LatestFor(ctx, d, isac.ID, "mhlw-institution", 2026)
		if err != nil || e.ID != "mhlw-r8-institution" {
			t.Fatalf("latest for 2026: %v %v", e, err)
		}
		e, _ = r.LatestFor(ctx, d, isac.ID, "mhlw-institution", 2025)
		if e.ID != "mhlw-r7-institution" {
			t.Fatalf("latest for 2025: %s", e.ID)
		}
		priv := []byte("id: isac-survey-1\nkind: survey\ntitle: S\nfiscal_year: 2025\nsections:\n  - id: s\n    title: S\n    items:\n      - {id: q, text: Q, type: yesno}\n")
		if _, err := r.SaveEdition(ctx, d, isac.ID, "u1", "s.yaml", priv, false, testNow); err != nil {
			t.Fatal(err)
		}
		other := mkOrg(t, d, auth.KindHospital, "H")
		if _, err := r.Get(ctx, d, other.ID, "isac-survey-1"); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("private edition visible: %v", err)
		}
		if _, err := r.Get(ctx, d, isac.ID, "isac-survey-1"); err != nil {
			t.Fatal(err)
		}
	})
}

// signer is a writing person of orgID (a hospital): its admin when admin
// is set, else its staff member.
func signer(orgID, userID string, admin bool) *auth.Principal {
	role := auth.RoleStaff
	if admin {
		role = auth.RoleAdmin
	}
	return &auth.Principal{UserID: userID, OrgID: orgID, OrgKind: auth.KindHospital, Role: role}
}
