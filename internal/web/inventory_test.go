package web

import (
	"archive/zip"
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/xlsx"
)

// withDocuments gives the test server a document folder.
func (e *env) withDocuments(t *testing.T) {
	docs, err := inventory.NewDocuments(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Documents = docs
	e.srv.Inventory.Documents = docs
}

// upload posts a multipart form with one file and the client's CSRF token.
func (c *client) upload(path, filename string, data []byte, fields url.Values) resp {
	c.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", c.csrf)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		c.e.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, c.e.ts.URL+path, &body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func (e *env) assetCount(org *auth.Org) int {
	e.t.Helper()
	as, err := inventory.AllAssets(bg, e.d, org.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(as)
}

var hiddenToken = regexp.MustCompile(`name="token" value="([0-9a-f]{32})"`)

// filledTemplate downloads the xlsx template through the page and fills
// two rows of the asset sheet.
func filledTemplate(t *testing.T, c *client) []byte {
	t.Helper()
	r := c.get("/inventory/template.xlsx")
	wantStatus(t, r, http.StatusOK)
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Fatalf("template disposition %q", cd)
	}
	sheets, err := xlsx.Read([]byte(r.body), xlsx.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	var header []string
	for _, cell := range sheets[0].Rows[0] {
		header = append(header, cell.V)
	}
	row := func(vals map[string]string) []string {
		out := make([]string, len(header))
		for i, h := range header {
			out[i] = vals[h]
		}
		return out
	}
	var buf bytes.Buffer
	err = xlsx.Write(&buf, []xlsx.SheetData{{Name: sheets[0].Name, Header: header, Rows: [][]string{
		row(map[string]string{"名称": "電子カルテサーバ1", "種別": "サーバ", "IPアドレス": "192.168.10.5", "セグメント": "情報系", "保守期限": "R9.3.31", "初期パスワード変更": "はい"}),
		row(map[string]string{"名称": "CT装置", "種別": "医療機器", "セグメント": "医療系", "リモート保守": "あり", "保守期限": "令和7年3月31日"}),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInventoryPagesRender(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		e.withDocuments(t)
		admin := e.signedIn(e.admin, e.hosp)
		admin.get("/inventory")
		// Some content: a template import, a segment, a system with a
		// document and an account, a connection.
		r := admin.upload("/inventory/import", "台帳.xlsx", filledTemplate(t, admin), nil)
		wantStatus(t, r, http.StatusOK)
		m := hiddenToken.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatal("no token on the preview")
		}
		wantStatus(t, admin.post("/inventory/import/apply", url.Values{"token": {m[1]}, "filename": {"台帳.xlsx"}}), http.StatusSeeOther)
		ct, err := inventory.GetAssetByName(bg, d, e.hosp.ID, "CT装置")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, admin.post("/inventory/vendors", url.Values{"name": {"保守会社"}}), http.StatusSeeOther)
		vs, _ := inventory.ListVendors(bg, d, e.hosp.ID)
		wantStatus(t, admin.post("/inventory/systems", url.Values{"name": {"電子カルテ"}, "vendor_id": {vs[0].ID}}), http.StatusSeeOther)
		ss, _ := inventory.ListSystems(bg, d, e.hosp.ID)
		sys := ss[0]
		wantStatus(t, admin.post("/inventory/connections", url.Values{"name": {"保守用ISDN"}, "type": {"isdn"}, "asset_id": {ct.ID}, "vendor_id": {vs[0].ID}, "mfa": {"no"}}), http.StatusSeeOther)
		wantStatus(t, admin.post("/inventory/accounts", url.Values{"username": {"admin"}, "kind": {"shared"}, "admin": {"1"}, "system_id": {sys.ID}}), http.StatusSeeOther)
		wantStatus(t, admin.post("/inventory/contracts", url.Values{"title": {"保守契約"}, "vendor_id": {vs[0].ID}, "system_ids": {sys.ID}, "start_on": {"R7.4.1"}, "end_on": {"2027-03-31"}}), http.StatusSeeOther)
		wantStatus(t, admin.post("/inventory/communications", url.Values{"asset_id": {ct.ID}, "peer": {"保守センター"}, "port": {"443"}, "reason": {"リモート保守"}, "reviewed_on": {"2026-03-01"}}), http.StatusSeeOther)
		admin.get("/inventory/systems/" + sys.ID)
		wantStatus(t, admin.upload("/inventory/systems/"+sys.ID+"/documents", "MDS.pdf", []byte("%PDF-1.4\n%%EOF\n"), url.Values{"kind": {"mds"}, "title": {"MDS 第2版"}}), http.StatusSeeOther)
		docs, _ := inventory.ListDocuments(bg, d, e.hosp.ID, sys.ID)
		if len(docs) != 1 {
			t.Fatalf("%d documents", len(docs))
		}

		pages := []string{"/inventory", "/inventory?kind=medical&q=CT", "/inventory/assets/" + ct.ID, "/inventory/assets/new", "/inventory/assets/" + ct.ID + "/edit",
			"/inventory/segments", "/inventory/segments/new", "/inventory/communications/new", "/inventory/connections", "/inventory/connections/new",
			"/inventory/vendors", "/inventory/vendors/new", "/inventory/contracts/new", "/inventory/systems", "/inventory/systems/" + sys.ID, "/inventory/systems/new",
			"/inventory/accounts", "/inventory/accounts?flagged=1", "/inventory/accounts/new", "/inventory/import", "/inventory/overview", "/inventory/measures"}
		for _, lang := range i18n.Languages {
			for _, u := range []*auth.User{e.admin, e.staff, e.auditor} {
				if err := auth.UpdateProfile(bg, d, u.ID, u.DisplayName, lang, e.clock.Now()); err != nil {
					t.Fatal(err)
				}
				c := e.signedIn(u, e.hosp)
				for _, p := range pages {
					r := c.get(p)
					if r.status != http.StatusOK {
						t.Errorf("%s %s %s: status %d", lang, u.Email, p, r.status)
						continue
					}
					checkPage(t, lang+" "+p, r)
					if strings.Contains(r.body, "inventory.") {
						t.Errorf("%s %s: untranslated inventory key in %s", lang, p, regexp.MustCompile(`inventory\.[a-z_.]+`).FindString(r.body))
					}
				}
			}
		}
		if err := auth.UpdateProfile(bg, d, e.staff.ID, e.staff.DisplayName, "ja", e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		c := e.signedIn(e.staff, e.hosp)
		r = c.get("/inventory/assets/" + ct.ID)
		wantContains(t, r, text("inventory.flag.past_support", "2025-03-31"))
		r = c.get("/inventory/connections")
		wantContains(t, r, text("inventory.flag.isdn_ended"))
		r = c.get("/inventory/measures")
		wantContains(t, r, "電子カルテサーバ1")

		// The overview is an image with the SVG type.
		r = c.get("/inventory/overview.svg")
		if r.status != 200 || r.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(r.body, "<svg") || !strings.Contains(r.body, "保守用ISDN") {
			t.Fatalf("overview svg: %d %q", r.status, r.header.Get("Content-Type"))
		}
		if strings.Contains(r.body, "<script") {
			t.Fatal("script in the overview")
		}

		// Document download: attachment, stored type, nosniff, audited.
		before := e.auditCount(e.hosp.ID, "record.read")
		r = c.get("/inventory/documents/" + docs[0].ID)
		if r.status != 200 || r.header.Get("Content-Type") != "application/pdf" || r.header.Get("X-Content-Type-Options") != "nosniff" ||
			!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") || !strings.HasPrefix(r.body, "%PDF") {
			t.Fatalf("download: %d %v", r.status, r.header)
		}
		if e.auditCount(e.hosp.ID, "record.read") != before+1 {
			t.Error("document download not audited")
		}
		// Another organisation's member gets 404 on the document.
		other := e.signedIn(e.other, e.clinic)
		if r := other.get("/inventory/documents/" + docs[0].ID); r.status != http.StatusNotFound {
			t.Fatalf("other organisation's download: %d", r.status)
		}
		if r := other.get("/inventory/assets/" + ct.ID); r.status != http.StatusNotFound {
			t.Fatalf("other organisation's asset: %d", r.status)
		}
		// Operators see no register.
		if r := e.signedIn(e.oper, e.isac).get("/inventory"); r.status != http.StatusNotFound {
			t.Fatalf("operator inventory: %d", r.status)
		}
	})
}

func TestInventoryAssetForm(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.signedIn(e.staff, e.hosp)
		c.get("/inventory/assets/new")
		r := c.post("/inventory/assets", url.Values{"name": {"受付PC"}, "kind": {"pc"}, "support_end": {"いつか"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, `id="support_end-err"`)
		wantContains(t, r, `value="受付PC"`)
		r = c.post("/inventory/assets", url.Values{"name": {"受付PC"}, "kind": {"pc"}, "support_end": {"R10.3.31"}, "open_ports": {"３３８９/tcp"}, "ip": {"１９２.168.0.2"}})
		wantStatus(t, r, http.StatusSeeOther)
		a, err := inventory.GetAssetByName(bg, d, e.hosp.ID, "受付PC")
		if err != nil || a.SupportEnd != "2028-03-31" || len(a.OpenPorts) != 1 || a.IP != "192.168.0.2" {
			t.Fatalf("stored %+v %v", a, err)
		}
		if e.auditCount(e.hosp.ID, "inventory.asset.create") != 1 {
			t.Error("create not audited")
		}
		r = c.post("/inventory/assets", url.Values{"name": {"受付PC"}})
		wantStatus(t, r, http.StatusConflict)
		wantContains(t, r, `id="name-err"`)
		r = c.post("/inventory/assets/"+a.ID, withForm(assetValues(a), url.Values{"lifecycle": {"spare"}}))
		wantStatus(t, r, http.StatusSeeOther)
		if e.auditCount(e.hosp.ID, "inventory.asset.update") != 1 {
			t.Error("update not audited")
		}
		hs, _ := inventory.AssetHistory(bg, d, e.hosp.ID, a.ID)
		if len(hs) != 2 || hs[0].Changes[0].Field != "lifecycle" {
			t.Fatalf("history %+v", hs)
		}
		// Auditors read but do not write.
		au := e.signedIn(e.auditor, e.hosp)
		au.get("/inventory")
		if r := au.post("/inventory/assets/"+a.ID+"/delete", nil); r.status != http.StatusForbidden {
			t.Fatalf("auditor delete: %d", r.status)
		}
		if r := au.post("/inventory/assets", url.Values{"name": {"x"}}); r.status != http.StatusForbidden {
			t.Fatalf("auditor create: %d", r.status)
		}
		// Another organisation's admin cannot change it.
		o := e.signedIn(e.other, e.clinic)
		o.get("/inventory")
		if r := o.post("/inventory/assets/"+a.ID+"/delete", nil); r.status != http.StatusNotFound {
			t.Fatalf("foreign delete: %d", r.status)
		}
		wantStatus(t, c.post("/inventory/assets/"+a.ID+"/delete", nil), http.StatusSeeOther)
		if e.assetCount(e.hosp) != 0 {
			t.Fatal("not deleted")
		}
	})
}

func TestInventoryAssetListPaging(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		for _, n := range []string{"A-01", "A-02", "A-03", "B-01"} {
			if _, err := inventory.CreateAsset(bg, d, e.hosp.ID, e.admin.ID, inventory.Asset{Name: n}, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		c := e.signedIn(e.staff, e.hosp)
		r := c.get("/inventory?limit=2&q=A-")
		wantContains(t, r, "A-02")
		next := regexp.MustCompile(`href="(/inventory\?[^"]*after=[^"]*)" rel="next"`).FindStringSubmatch(r.body)
		if next == nil || strings.Contains(r.body, "A-03") {
			t.Fatalf("no next link or too many rows")
		}
		r = c.get(strings.ReplaceAll(next[1], "&amp;", "&"))
		if !strings.Contains(r.body, "A-03") || strings.Contains(r.body, "B-01") || strings.Contains(r.body, ">A-01<") {
			t.Fatalf("second page wrong")
		}
		if r := c.get("/inventory?after=!!!"); r.status != http.StatusBadRequest {
			t.Fatalf("bad cursor: %d", r.status)
		}
	})
}

// TestInventoryBadImports sends malformed and hostile files through the
// upload form: each gets errors naming sheet, row and column where there
// is one, and nothing is written.
func TestInventoryBadImports(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		e.withDocuments(t)
		c := e.signedIn(e.staff, e.hosp)
		c.get("/inventory/import")

		sjis := func(s string) []byte {
			// 名称,種別 / 受付PC,PC in Shift_JIS.
			return append([]byte{0x96, 0xbc, 0x8f, 0xcc, ',', 0x8e, 0xed, 0x95, 0xca, '\n', 0x8e, 0xf3, 0x95, 0x74, 'P', 'C', ',', 'P', 'C', '\n'}, s...)
		}
		var bomb bytes.Buffer
		zw := zip.NewWriter(&bomb)
		w, _ := zw.Create("xl/workbook.xml")
		_, _ = w.Write([]byte(`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="資産" r:id="rId1" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"/></sheets></workbook>`))
		w, _ = zw.Create("xl/worksheets/sheet1.xml")
		_, _ = w.Write(bytes.Repeat([]byte(" "), 200<<20))
		_ = zw.Close()

		cases := []struct {
			name, file string
			data       []byte
			status     int
			want       []string
		}{
			{"missing name column", "a.csv", []byte("種別,IPアドレス\nPC,10.0.0.1\n"), 422, []string{"資産", "名称"}},
			{"bad date", "a.csv", []byte("名称,保守期限\nPC-1,2026/2/30\n"), 422, []string{"資産", "2 行目", "保守期限", "2026/2/30"}},
			{"duplicate names", "a.csv", []byte("名称\nPC-1\nPC-1\n"), 422, []string{"3 行目", "名称", "PC-1"}},
			{"bad choice", "a.csv", []byte("名称,種別\nPC-1,宇宙船\n"), 422, []string{"種別", "宇宙船"}},
			{"wrong encoding", "a.csv", []byte{0xff, 0xfe, 0x00, 0x41, 0x81, 0xff, 0xfe, 0x00}, 422, []string{text("inventory.import.encoding")}},
			{"not xlsx", "a.xlsx", []byte("PK\x03\x04 garbage"), 422, []string{text("inventory.import.not_xlsx")}},
			{"zip bomb", "bomb.xlsx", bomb.Bytes(), 422, []string{text("inventory.import.xlsx_limit")}},
			{"xml entities", "scan.xml", []byte(`<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><nmaprun>&b;</nmaprun>`), 400, []string{text("inventory.nmap.bad_file")}},
			{"empty", "a.csv", nil, 400, []string{text("inventory.error.empty_file")}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := c.upload("/inventory/import", tc.file, tc.data, nil)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d", r.status, tc.status)
				}
				checkPage(t, tc.name, r)
				for _, w := range tc.want {
					if !strings.Contains(r.body, w) {
						t.Errorf("page lacks %q", w)
					}
				}
				if strings.Contains(r.body, `id="apply"`) {
					t.Error("a faulty file can be applied")
				}
			})
		}
		// Shift_JIS as Excel writes it is read.
		r := c.upload("/inventory/import", "sjis.csv", sjis(""), nil)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r, "shift_jis")
		m := hiddenToken.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatal("no token")
		}
		// Another member cannot apply someone else's token in another
		// organisation, and a made-up token is refused.
		o := e.signedIn(e.other, e.clinic)
		o.get("/inventory/import")
		if r := o.post("/inventory/import/apply", url.Values{"token": {m[1]}, "filename": {"sjis.csv"}}); r.status != http.StatusNotFound {
			t.Fatalf("foreign token: %d", r.status)
		}
		if r := c.post("/inventory/import/apply", url.Values{"token": {"../../etc/passwd"}, "filename": {"x.csv"}}); r.status != http.StatusNotFound {
			t.Fatalf("bad token: %d", r.status)
		}
		if n := e.assetCount(e.hosp) + e.assetCount(e.clinic); n != 0 {
			t.Fatalf("%d assets written by faulty imports", n)
		}
		wantStatus(t, c.post("/inventory/import/apply", url.Values{"token": {m[1]}, "filename": {"sjis.csv"}}), http.StatusSeeOther)
		if _, err := inventory.GetAssetByName(bg, d, e.hosp.ID, "受付PC"); err != nil {
			t.Fatalf("Shift_JIS row: %v", err)
		}
		if e.auditCount(e.hosp.ID, "inventory.import") != 1 {
			t.Error("import not audited")
		}
		// The token is spent.
		if r := c.post("/inventory/import/apply", url.Values{"token": {m[1]}, "filename": {"sjis.csv"}}); r.status != http.StatusNotFound {
			t.Fatalf("token reused: %d", r.status)
		}
		// Oversized upload: refused before it is read whole.
		big := bytes.Repeat([]byte("a"), 66<<20)
		if r := c.upload("/inventory/import", "big.csv", big, nil); r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized: %d", r.status)
		}
		// Documents: a file that is not an accepted type.
		if _, err := inventory.CreateSystem(bg, d, e.hosp.ID, inventory.System{Name: "PACS"}, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		ss, _ := inventory.ListSystems(bg, d, e.hosp.ID)
		c.get("/inventory/systems/" + ss[0].ID)
		r = c.upload("/inventory/systems/"+ss[0].ID+"/documents", "evil.html", []byte("<html><script>alert(1)</script>"), url.Values{"kind": {"mds"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, `id="file-err"`)
		if ds, _ := inventory.ListDocuments(bg, d, e.hosp.ID, ""); len(ds) != 0 {
			t.Fatal("a refused document was stored")
		}
	})
}

// TestInventoryNmapImport previews a real nmap file and applies only the
// chosen proposals.
func TestInventoryNmapImport(t *testing.T) {
	files := []string{"../inventory/testdata/nmap-radialnet-example.xml"}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	scan, err := inventory.ParseNmap(bytes.NewReader(data), 0)
	if err != nil || len(scan.Hosts) == 0 {
		t.Fatalf("%s: %v", files[0], err)
	}
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		e.withDocuments(t)
		e.srv.Documents.MaxSize = 64 << 20
		c := e.signedIn(e.admin, e.hosp)
		c.get("/inventory/import")
		r := c.upload("/inventory/import", filepath.Base(files[0]), data, nil)
		wantStatus(t, r, http.StatusOK)
		checkPage(t, "nmap preview", r)
		wantContains(t, r, `name="accept" value="0"`)
		m := hiddenToken.FindStringSubmatch(r.body)
		r = c.post("/inventory/import/nmap", url.Values{"token": {m[1]}, "accept": {"0"}})
		wantStatus(t, r, http.StatusSeeOther)
		if n := e.assetCount(e.hosp); n != 1 {
			t.Fatalf("%d assets after accepting one proposal", n)
		}
	})
}

// TestInventoryImportApplyingNote: while an import is being applied to the
// register the asset list says so, and a change to the register is
// refused with a message in the form; before and after, nothing is shown.
func TestInventoryImportApplyingNote(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.signedIn(e.admin, e.hosp)
		r := c.get("/inventory")
		if strings.Contains(r.body, "import-in-progress") {
			t.Fatal("note shown without an import")
		}
		now := e.clock.Now()
		if _, err := d.Exec(bg, "INSERT INTO inv_imports (id, org_id, state, entry, staged, started_at, touched_at) VALUES (?, ?, 'applying', '{}', 0, ?, ?)",
			db.NewID(), e.hosp.ID, now, now); err != nil {
			t.Fatal(err)
		}
		r = c.get("/inventory")
		wantContains(t, r, "取り込み中")
		wantContains(t, r, `id="import-in-progress"`)
		r = c.post("/inventory/assets", url.Values{"name": {"取り込み中の追加"}, "kind": {"pc"}})
		if r.status != http.StatusConflict || !strings.Contains(r.body, "台帳の取り込み中です") {
			t.Fatalf("write during an import: %d", r.status)
		}
		if e.assetCount(e.hosp) != 0 {
			t.Fatal("written during an import")
		}
		// Another organisation's register is not concerned.
		o := e.signedIn(e.other, e.clinic)
		if r := o.get("/inventory"); strings.Contains(r.body, "import-in-progress") {
			t.Fatal("note shown to another organisation")
		}
	})
}
