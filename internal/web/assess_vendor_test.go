package web

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
)

// multipartPost posts one file (and fields) with the client's CSRF token.
func (c *client) multipartPost(path, field, name string, data []byte, fields map[string]string) resp {
	c.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", c.csrf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile(field, name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.ts.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// vendorAnswers fills every cell of the vendor form of e.
func vendorAnswers(e *assess.Edition, date string) url.Values {
	f := url.Values{}
	for _, it := range e.Items() {
		for _, c := range it.CellIDs() {
			k := it.ID + "." + c
			f.Set("answer1."+k, "yes")
			f.Set("date1."+k, date)
		}
	}
	return f
}

// TestAssessVendorFlow requests vendor sheets from the inventory's vendors:
// one answers through the e-mailed link (once; a used or expired link shows
// a 410 page), one with a medisac organisation answers from its own sheet,
// and the institution uploads a third vendor's PDF.
func TestAssessVendorFlow(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		now := e.clock.Now()
		vorg := e.mustOrg(auth.OrgInput{Kind: auth.KindVendor, Name: "北町システム株式会社", NameKana: "キタマチシステム", Prefecture: "東京都"})
		vuser := e.mustUser("sec@kitamachi-sys.example.jp", "北町 情報", vorg, auth.RoleAdmin)
		vendors := map[string]inventory.Vendor{}
		for _, x := range []struct{ name, email, org, system string }{
			{"電子カルテ販売", "support@karte.example.jp", "", "電子カルテ"},
			{"北町システム", "", vorg.ID, "レセコン"},
			{"検査機器保守", "lab@kensa.example.jp", "", "検査システム"},
		} {
			v, err := inventory.CreateVendor(bg, d, e.hosp.ID, inventory.Vendor{Name: x.name, Email: x.email, MedisacOrgID: x.org}, now)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := inventory.CreateSystem(bg, d, e.hosp.ID, inventory.System{Name: x.system, VendorID: v.ID}, now); err != nil {
				t.Fatal(err)
			}
			vendors[x.name] = v
		}
		admin := e.signedIn(e.admin, e.hosp)
		r := admin.get("/assess/vendors")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "電子カルテ販売")
		wantContains(t, r, "レセコン")

		// Nothing chosen, then a due date in the past: refused, nothing sent.
		wantStatus(t, admin.post("/assess/vendors", url.Values{"edition": {"mhlw-r7-vendor"}, "year": {"2026"}}), http.StatusBadRequest)
		r = admin.post("/assess/vendors", url.Values{"vendor": {vendors["電子カルテ販売"].ID}, "edition": {"mhlw-r7-vendor"}, "year": {"2026"}, "due_on": {"2026-03-01"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, "電子カルテ販売")
		if n := len(e.mails(e.hosp.ID)); n != 0 {
			t.Fatalf("%d mails after refusals", n)
		}

		r = admin.post("/assess/vendors", url.Values{"vendor": {vendors["電子カルテ販売"].ID, vendors["北町システム"].ID, vendors["検査機器保守"].ID},
			"edition": {"mhlw-r7-vendor"}, "year": {"2026"}, "due_on": {"2026-06-30"}, "email." + vendors["北町システム"].ID: {"sec@kitamachi-sys.example.jp"}})
		wantStatus(t, r, http.StatusSeeOther)
		var linkMail, labMail string
		for _, m := range e.mails(e.hosp.ID) {
			switch m.To {
			case "support@karte.example.jp":
				linkMail = m.Body
			case "lab@kensa.example.jp":
				labMail = m.Body
			}
		}
		link := e.linkIn(linkMail, "vendor-sheet")
		labLink := e.linkIn(labMail, "vendor-sheet")
		r = admin.get("/assess/vendors")
		wantContains(t, r, text("assess.vendors.state.requested"))

		// The vendor answers through the link without an account.
		anon := e.client()
		r = anon.get(link)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "北町総合病院")
		wantContains(t, r, "医療情報システム安全管理責任者を設置している。")
		ved, _ := assessRegistry().Get(bg, d, "", "mhlw-r7-vendor")
		f := vendorAnswers(ved, "2026-04-01")
		f.Set("signer", "電子カルテ販売 品質保証部 山田")
		bad := url.Values{"signer": {"山田"}, "answer1.manager.": {"no"}, "date1.manager.": {"2026-04-01"}}
		r = anon.post(link, bad)
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, "1-①")
		r = anon.post(link, f)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, text("assess.link.thanks", "北町総合病院"))
		r = anon.get(link)
		wantStatus(t, r, http.StatusGone)
		wantContains(t, r, text("assess.vendor.link_used"))
		wantStatus(t, anon.post(link, f), http.StatusGone)
		wantStatus(t, anon.get("/vendor-sheet/not-a-real-token"), http.StatusNotFound)

		// The institution sees the answers, read-only.
		r = admin.get("/assess/vendors")
		wantContains(t, r, text("assess.vendors.state.answered"))
		sheet := regexp.MustCompile(`href="(/assess/sheets/[0-9a-f-]+)"`).FindStringSubmatch(r.body)
		if sheet == nil {
			t.Fatal("no link to the vendor's answers")
		}
		r = admin.get(sheet[1])
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "山田")
		wantStatus(t, admin.post(sheet[1]+"/items/manager", url.Values{"answer1.general": {"no"}}), http.StatusConflict)
		wantStatus(t, e.signedIn(e.other, e.clinic).get(sheet[1]), http.StatusNotFound)

		// The vendor with a medisac organisation answers from its own sheet.
		vc := e.signedIn(vuser, vorg)
		r = vc.get(assess.InboxPath)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "北町総合病院")
		wantContains(t, r, text("assess.inbox.no_own"))
		var in []assess.Answer
		for _, it := range ved.Items() {
			for _, c := range it.CellIDs() {
				in = append(in, assess.Answer{ItemID: it.ID, Cell: c, Answer1: "yes", Date1: "2026-04-01"})
			}
		}
		if err := d.InTx(bg, func(tx *db.Tx) error {
			own, err := assess.StartSheet(bg, tx, ved, vorg.ID, 2026, "", now)
			if err != nil {
				return err
			}
			_, err = assess.SaveAnswers(bg, tx, ved, vorg.ID, own.ID, vuser.ID, in, now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		r = vc.get(assess.InboxPath)
		m := regexp.MustCompile(`action="(` + assess.InboxPath + `/[0-9a-f-]+/answer)"`).FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("no answer button: %s", r.body[strings.Index(r.body, "<main"):])
		}
		wantStatus(t, vc.post(m[1], nil), http.StatusSeeOther)
		wantStatus(t, e.signedIn(e.other, e.clinic).post(m[1], nil), http.StatusNotFound)
		if n := e.auditCount(e.hosp.ID, "assess.vendor.answer"); n != 2 {
			t.Errorf("%d answer entries in the institution's log", n)
		}

		// The institution uploads the third vendor's PDF.
		r = admin.get("/assess/vendors")
		id := regexp.MustCompile(`action="/assess/vendors/([0-9a-f-]+)/file"`).FindStringSubmatch(r.body)
		if id == nil {
			t.Fatal("no upload form")
		}
		wantStatus(t, admin.multipartPost("/assess/vendors/"+id[1]+"/file", "file", "note.txt", []byte("text"), nil), http.StatusBadRequest)
		wantStatus(t, admin.multipartPost("/assess/vendors/"+id[1]+"/file", "file", "事業者確認用.pdf", []byte("%PDF-1.4\n%%EOF\n"), nil), http.StatusSeeOther)
		r = admin.get("/assess/vendors/" + id[1] + "/file")
		wantStatus(t, r, http.StatusOK)
		if !strings.HasPrefix(r.body, "%PDF-") {
			t.Error("uploaded PDF not served")
		}
		wantStatus(t, anon.get(labLink), http.StatusGone)
		wantStatus(t, e.signedIn(e.other, e.clinic).get("/assess/vendors/"+id[1]+"/file"), http.StatusNotFound)
	})
}

// TestAssessVendorLinkExpires shows the 410 page for an expired link and
// a working one after the institution's reminder.
func TestAssessVendorLinkExpires(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		v, err := inventory.CreateVendor(bg, d, e.hosp.ID, inventory.Vendor{Name: "保守会社", Email: "hoshu@example.jp"}, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inventory.CreateSystem(bg, d, e.hosp.ID, inventory.System{Name: "PACS", VendorID: v.ID}, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		admin := e.signedIn(e.admin, e.hosp)
		admin.get("/assess/vendors")
		wantStatus(t, admin.post("/assess/vendors", url.Values{"vendor": {v.ID}, "edition": {"mhlw-r7-vendor"}, "year": {"2026"}}), http.StatusSeeOther)
		link := e.linkIn(e.mails(e.hosp.ID)[0].Body, "vendor-sheet")
		e.clock.Advance(assess.VendorLinkTTL + time.Minute)
		r := e.client().get(link)
		wantStatus(t, r, http.StatusGone)
		wantContains(t, r, text("assess.vendor.link_expired"))
		admin = e.signedIn(e.admin, e.hosp)
		r = admin.get("/assess/vendors")
		id := regexp.MustCompile(`action="/assess/vendors/([0-9a-f-]+)/remind"`).FindStringSubmatch(r.body)
		if id == nil {
			t.Fatal("no reminder button")
		}
		wantStatus(t, admin.post("/assess/vendors/"+id[1]+"/remind", nil), http.StatusSeeOther)
		fresh := e.linkIn(e.mails(e.hosp.ID)[0].Body, "vendor-sheet")
		if fresh == link {
			t.Fatal("the reminder repeats the expired link")
		}
		wantStatus(t, e.client().get(fresh), http.StatusOK)
	})
}

// TestAssessEvidenceLimit uploads evidence larger than a plain form through
// the page: accepted up to the store's limit, refused above it with the
// limit named, as the page says.
func TestAssessEvidenceLimit(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		admin := e.signedIn(e.admin, e.hosp)
		admin.get("/assess")
		r := admin.post("/assess/sheets", url.Values{"edition": {"mhlw-r7-institution"}, "year": {"2026"}})
		wantStatus(t, r, http.StatusSeeOther)
		sheet := r.loc()
		r = admin.get(sheet + "/items/has_system")
		wantContains(t, r, text("assess.evidence.file_hint", assess.MaxFileSize>>20))
		big := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0"), 5<<20)...)
		wantStatus(t, admin.multipartPost(sheet+"/items/has_system/evidence", "file", "big.pdf", big, nil), http.StatusSeeOther)
		huge := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("0"), assess.MaxFileSize)...)
		r = admin.multipartPost(sheet+"/items/has_system/evidence", "file", "huge.pdf", huge, nil)
		wantStatus(t, r, http.StatusRequestEntityTooLarge)
		wantContains(t, r, text("assess.file.too_large", assess.MaxFileSize>>20))
	})
}
