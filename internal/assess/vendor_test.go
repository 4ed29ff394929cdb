package assess

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/notify"
)

// fillAll answers every cell of e that needs an answer, dated date.
func fillAll(e *Edition, date string) []Answer {
	var in []Answer
	for _, it := range e.Items() {
		for _, c := range it.CellIDs() {
			a := Answer{ItemID: it.ID, Cell: c}
			switch it.Type {
			case TypeCheck, "":
				a.Answer1, a.Date1 = AnsYes, date
			case TypeYesNo:
				a.Value = AnsYes
			case TypeDate:
				a.Value = date
			case TypeTargetDate:
				a.Value = date
			case TypeChoice, TypeMulti:
				a.Value = it.Options[0].ID
			case TypeNumber:
				a.Value = "1"
			default:
				a.Value = "回答"
			}
			in = append(in, a)
		}
	}
	return in
}

type vendorFixture struct {
	reg                      *Registry
	hosp, clinic, vendorOrg  *auth.Org
	linkVendor, medisacVndr  inventory.Vendor
	clinicVendor, noMailVndr inventory.Vendor
}

func newVendorFixture(t *testing.T, d *db.DB) *vendorFixture {
	t.Helper()
	ctx := context.Background()
	f := &vendorFixture{reg: MustRegistry()}
	f.hosp = mkOrg(t, d, auth.KindHospital, "みなと総合病院")
	f.clinic = mkOrg(t, d, auth.KindClinic, "かもめクリニック")
	f.vendorOrg = mkOrg(t, d, auth.KindVendor, "港システム株式会社")
	mk := func(org string, v inventory.Vendor, system string) inventory.Vendor {
		v, err := inventory.CreateVendor(ctx, d, org, v, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if system != "" {
			if _, err := inventory.CreateSystem(ctx, d, org, inventory.System{Name: system, VendorID: v.ID}, testNow); err != nil {
				t.Fatal(err)
			}
		}
		return v
	}
	f.linkVendor = mk(f.hosp.ID, inventory.Vendor{Name: "電子カルテ販売", Email: "support@karte.example.jp"}, "電子カルテ")
	f.medisacVndr = mk(f.hosp.ID, inventory.Vendor{Name: "港システム", MedisacOrgID: f.vendorOrg.ID, Email: "sec@minato-sys.example.jp"}, "レセコン")
	f.noMailVndr = mk(f.hosp.ID, inventory.Vendor{Name: "保守会社（連絡先なし）"}, "")
	f.clinicVendor = mk(f.clinic.ID, inventory.Vendor{Name: "港システム", MedisacOrgID: f.vendorOrg.ID}, "レセコン")
	return f
}

func TestVendorCandidates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newVendorFixture(t, d)
		cs, err := VendorCandidates(context.Background(), d, f.hosp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 2 || cs[0].Vendor.Name != "港システム" || cs[0].Systems[0] != "レセコン" || cs[1].Vendor.Name != "電子カルテ販売" {
			t.Fatalf("candidates %+v", cs)
		}
	})
}

// TestVendorByLink requests a sheet from a vendor without a medisac
// organisation: the link works once, refuses incomplete answers without
// using up the link, and is gone after use or expiry.
func TestVendorByLink(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newVendorFixture(t, d)
		in := VendorRequestInput{VendorID: f.linkVendor.ID, EditionID: "mhlw-r7-vendor", FiscalYear: 2025, DueOn: "2025-08-31"}
		var r *VendorRequest
		var token string
		err := d.InTx(ctx, func(tx *db.Tx) error {
			var err error
			r, token, err = RequestVendorSheet(ctx, tx, f.reg, f.hosp.ID, "u1", in, testNow)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if token == "" || r.VendorEmail != "support@karte.example.jp" || !r.ByLink() || r.State("2025-07-01") != VendorRequested || r.State("2025-09-01") != VendorOverdue {
			t.Fatalf("request %+v token %q", r, token)
		}
		var stored string
		_ = d.QueryRow(ctx, `SELECT token_hash FROM assess_vendor_requests WHERE id = ?`, r.ID).Scan(&stored)
		if stored == token || stored != auth.HashToken(token) {
			t.Error("the raw token is stored")
		}
		// Refusals.
		bad := []struct {
			name string
			in   VendorRequestInput
			code apperr.Code
		}{
			{"duplicate", in, apperr.Conflict},
			{"other org's vendor", VendorRequestInput{VendorID: f.clinicVendor.ID, EditionID: "mhlw-r7-vendor", FiscalYear: 2025}, apperr.Invalid},
			{"institution edition", VendorRequestInput{VendorID: f.linkVendor.ID, EditionID: "mhlw-r7-institution", FiscalYear: 2025}, apperr.Invalid},
			{"no address", VendorRequestInput{VendorID: f.noMailVndr.ID, EditionID: "mhlw-r7-vendor", FiscalYear: 2025}, apperr.Invalid},
			{"due in the past", VendorRequestInput{VendorID: f.noMailVndr.ID, EditionID: "mhlw-r7-vendor", FiscalYear: 2025, Email: "a@b.example.jp", DueOn: "2025-06-30"}, apperr.Invalid},
			{"bad address", VendorRequestInput{VendorID: f.noMailVndr.ID, EditionID: "mhlw-r7-vendor", FiscalYear: 2025, Email: "a@b\r\nBcc: x@y"}, apperr.Invalid},
		}
		for _, c := range bad {
			if _, _, err := RequestVendorSheet(ctx, d, f.reg, f.hosp.ID, "u1", c.in, testNow); apperr.From(err).Code != c.code {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
			}
		}

		got, err := RequestByLink(ctx, d, token, testNow)
		if err != nil || got.CustomerName != "みなと総合病院" {
			t.Fatalf("by link: %v %+v", err, got)
		}
		if _, err := RequestByLink(ctx, d, token+"x", testNow); err != ErrLinkInvalid {
			t.Errorf("wrong token: %v", err)
		}
		if _, err := RequestByLink(ctx, d, token, testNow.Add(VendorLinkTTL)); err != ErrLinkExpired || !LinkGone(err) {
			t.Errorf("expired: %v", err)
		}
		e, _ := f.reg.Get(ctx, d, "", "mhlw-r7-vendor")
		all := fillAll(e, "2025-06-30")
		answer := func(in []Answer, signer string) error {
			return d.InTx(ctx, func(tx *db.Tx) error {
				_, err := AnswerByLink(ctx, tx, f.reg, token, signer, in, testNow)
				return err
			})
		}
		if err := answer(all[:1], "山田"); apperr.From(err).Key != "assess.vendor.incomplete" {
			t.Fatalf("incomplete: %v", err)
		}
		if err := answer(all, ""); apperr.From(err).Field != "signer" {
			t.Fatalf("no signer: %v", err)
		}
		if err := answer(all, "山田 太郎"); err != nil {
			t.Fatalf("answer: %v", err)
		}
		if err := answer(all, "山田 太郎"); err != ErrLinkUsed {
			t.Fatalf("reuse: %v", err)
		}
		r, _ = GetVendorRequest(ctx, d, f.hosp.ID, r.ID)
		if r.State("2025-12-01") != VendorAnswered || r.SheetID == "" {
			t.Fatalf("after answer %+v", r)
		}
		sh, err := GetSheet(ctx, d, f.hosp.ID, r.SheetID)
		if err != nil || !sh.Signed() || !strings.Contains(sh.SignedName, "山田 太郎") || len(sh.Answers) != len(all) {
			t.Fatalf("copy %v %+v", err, sh)
		}
		if _, err := SaveAnswers(ctx, d, e, f.hosp.ID, sh.ID, "u1", all[:1], testNow); apperr.From(err).Code != apperr.Conflict {
			t.Errorf("institution changed the vendor's answers: %v", err)
		}
		if err := Reopen(ctx, d, signer(f.hosp.ID, "u1", true), f.hosp.ID, sh.ID, testNow); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("institution reopened the vendor's answers: %v", err)
		}
		if own, _ := ListSheets(ctx, d, f.hosp.ID, SheetFilter{}); len(own) != 0 {
			t.Errorf("vendor copy listed among own sheets: %d", len(own))
		}
	})
}

// TestVendorWithOrganisation lets a vendor with a medisac organisation fill
// its sheet once and answer two customers with copies; each customer sees
// only its own copy, and the vendor cannot reach another vendor's request.
func TestVendorWithOrganisation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newVendorFixture(t, d)
		req := func(org, vendor string) *VendorRequest {
			r, token, err := RequestVendorSheet(ctx, d, f.reg, org, "u", VendorRequestInput{VendorID: vendor, EditionID: "mhlw-r7-vendor", FiscalYear: 2025}, testNow)
			if err != nil || token != "" || r.ByLink() {
				t.Fatalf("request: %v %q %+v", err, token, r)
			}
			return r
		}
		r1 := req(f.hosp.ID, f.medisacVndr.ID)
		r2 := req(f.clinic.ID, f.clinicVendor.ID)
		inbox, err := VendorInbox(ctx, d, f.vendorOrg.ID)
		if err != nil || len(inbox) != 2 {
			t.Fatalf("inbox %v %d", err, len(inbox))
		}
		if x, _ := VendorInbox(ctx, d, f.hosp.ID); len(x) != 0 {
			t.Errorf("the institution has %d inbox entries", len(x))
		}
		if _, err := AnswerFromVendorSheet(ctx, d, f.reg, f.vendorOrg.ID, r1.ID, "v", "港システム", testNow); apperr.From(err).Key != "assess.vendor.no_own_sheet" {
			t.Fatalf("without own sheet: %v", err)
		}
		e, _ := f.reg.Get(ctx, d, "", "mhlw-r7-vendor")
		own, err := StartSheet(ctx, d, e, f.vendorOrg.ID, 2025, "", testNow)
		if err != nil {
			t.Fatal(err)
		}
		all := fillAll(e, "2025-06-30")
		all[1].Comment = "港システム社内の管理"
		if _, err := SaveAnswers(ctx, d, e, f.vendorOrg.ID, own.ID, "v", all[:2], testNow); err != nil {
			t.Fatal(err)
		}
		if _, err := AnswerFromVendorSheet(ctx, d, f.reg, f.vendorOrg.ID, r1.ID, "v", "港システム", testNow); apperr.From(err).Key != "assess.vendor.own_incomplete" {
			t.Fatalf("incomplete own sheet: %v", err)
		}
		if _, err := SaveAnswers(ctx, d, e, f.vendorOrg.ID, own.ID, "v", all, testNow); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*VendorRequest{r1, r2} {
			got, err := AnswerFromVendorSheet(ctx, d, f.reg, f.vendorOrg.ID, r.ID, "v", "港システム", testNow)
			if err != nil || got.Status != VendorAnswered {
				t.Fatalf("answer %s: %v", r.ID, err)
			}
		}
		if _, err := AnswerFromVendorSheet(ctx, d, f.reg, f.vendorOrg.ID, r1.ID, "v", "港システム", testNow); apperr.From(err).Code != apperr.Conflict {
			t.Errorf("second answer: %v", err)
		}
		if _, err := AnswerFromVendorSheet(ctx, d, f.reg, f.clinic.ID, r2.ID, "v", "x", testNow); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("another org answered: %v", err)
		}
		g1, _ := GetVendorRequest(ctx, d, f.hosp.ID, r1.ID)
		g2, _ := GetVendorRequest(ctx, d, f.clinic.ID, r2.ID)
		s1, err := GetSheet(ctx, d, f.hosp.ID, g1.SheetID)
		if err != nil || s1.Answers[Key{all[1].ItemID, all[1].Cell}].Comment != "港システム社内の管理" {
			t.Fatalf("copy for hospital: %v", err)
		}
		if _, err := GetSheet(ctx, d, f.hosp.ID, g2.SheetID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("hospital reads the clinic's copy: %v", err)
		}
		if _, err := GetSheet(ctx, d, f.hosp.ID, own.ID); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("hospital reads the vendor's own sheet: %v", err)
		}
	})
}

func TestVendorPDFAndReminders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newVendorFixture(t, d)
		r, token, err := RequestVendorSheet(ctx, d, f.reg, f.hosp.ID, "u", VendorRequestInput{VendorID: f.linkVendor.ID, EditionID: "mhlw-r7-vendor", FiscalYear: 2025, DueOn: "2025-07-10"}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		rm, _, err := RequestVendorSheet(ctx, d, f.reg, f.hosp.ID, "u", VendorRequestInput{VendorID: f.medisacVndr.ID, EditionID: "mhlw-r7-vendor", FiscalYear: 2025, DueOn: "2025-09-30"}, testNow)
		if err != nil {
			t.Fatal(err)
		}
		mailer, err := notify.NewMailer(d, nil, nil, func() time.Time { return testNow })
		if err != nil {
			t.Fatal(err)
		}
		cat := i18n.MustLoad()
		m := VendorMail{Mailer: mailer, Catalog: cat, BaseURL: "https://medisac.example.jp/"}
		// Nothing is due in the first week.
		if n, err := SendVendorReminders(ctx, d, f.reg, m, testNow.Add(24*time.Hour)); err != nil || n != 0 {
			t.Fatalf("day 1: %d %v", n, err)
		}
		later := testNow.Add(8 * 24 * time.Hour)
		if n, err := SendVendorReminders(ctx, d, f.reg, m, later); err != nil || n != 1 {
			t.Fatalf("day 8: %d %v", n, err)
		}
		if n, _ := SendVendorReminders(ctx, d, f.reg, m, later.Add(time.Hour)); n != 0 {
			t.Errorf("reminded twice within a week: %d", n)
		}
		box, err := mailer.Outbox(ctx, f.hosp.ID, 10)
		if err != nil || len(box) != 1 {
			t.Fatalf("outbox %v %d", err, len(box))
		}
		if box[0].To != "support@karte.example.jp" || !strings.Contains(box[0].Body, "https://medisac.example.jp/vendor-sheet/") || !strings.Contains(box[0].Subject, "みなと総合病院") {
			t.Errorf("reminder %+v", box[0])
		}
		if strings.Contains(box[0].Body, token) {
			t.Error("the reminder repeats the old link")
		}
		if _, err := RequestByLink(ctx, d, token, later); err != ErrLinkInvalid {
			t.Errorf("old link after renewal: %v", err)
		}
		_ = rm

		// The institution uploads the vendor's own PDF instead.
		if _, err := AttachVendorPDF(ctx, d, f.hosp.ID, r.ID, "u", "sheet.txt", []byte("text"), later); err == nil {
			t.Error("accepted a text file")
		}
		if _, err := AttachVendorPDF(ctx, d, f.clinic.ID, r.ID, "u", "sheet.pdf", []byte("%PDF-1.4\n%%EOF\n"), later); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("another org attached: %v", err)
		}
		got, err := AttachVendorPDF(ctx, d, f.hosp.ID, r.ID, "u", "事業者確認用.pdf", []byte("%PDF-1.4\n%%EOF\n"), later)
		if err != nil || got.Status != VendorAnswered || got.FileID == "" {
			t.Fatalf("attach: %v %+v", err, got)
		}
		if n, _ := SendVendorReminders(ctx, d, f.reg, m, later.Add(80*24*time.Hour)); n != 1 {
			t.Errorf("reminders after the answer: %d (only the other vendor's)", n)
		}
	})
}
