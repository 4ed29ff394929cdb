package xlsx

import (
	"archive/zip"
	"bytes"
	"errors"
	"github.com/medisac/medisac/internal/testkit"
	"strconv"
	"strings"
	"testing"
)

func xlsxOf(t testing.TB, sheets ...SheetData) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, sheets); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestXLSXRoundTrip(t *testing.T) {
	in := []SheetData{
		{Name: "資産", Header: []string{"名称", "備考"}, Rows: [][]string{{"CT装置", "<&>\"'"}, {"", "空欄の次"}, {"0012", "改行\nあり"}}},
		{Name: "事業者", Header: []string{"名称"}},
	}
	sheets, err := Read(xlsxOf(t, in...), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sheets) != 2 || sheets[0].Name != "資産" || sheets[1].Name != "事業者" {
		t.Fatalf("sheets %+v", sheets)
	}
	rows := sheets[0].Rows
	if len(rows) != 4 || rows[1][1].V != "<&>\"'" || rows[2][0].V != "" || rows[2][1].V != "空欄の次" || rows[3][0].V != "0012" || rows[3][1].V != "改行\nあり" {
		t.Errorf("rows %+v", rows)
	}
}

func TestReadCells(t *testing.T) {
	sheet := `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="s"><v>1</v></c></row>
<row r="3"><c r="A3" t="inlineStr"><is><t>VPN</t></is></c><c r="B3"><v>46112</v></c><c r="C3" t="str"><f>A3&amp;"x"</f><v>VPNx</v></c><c r="D3" t="b"><v>1</v></c></row>
</sheetData></worksheet>`
	shared := `<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>名称</t><rPh sb="0" eb="2"><t>メイショウ</t></rPh></si><si><r><t>保守</t></r><r><t>期限</t></r></si></sst>`
	sheets, err := Read(testkit.RawXLSX(t, sheet, shared), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r := sheets[0].Rows
	if len(r) != 3 || r[0][0].V != "名称" || r[0][1].V != "" || r[0][2].V != "保守期限" || len(r[1]) != 0 {
		t.Fatalf("rows %+v", r)
	}
	if r[2][0].V != "VPN" || r[2][1] != (Cell{V: "46112", Num: true}) || r[2][2].V != "VPNx" || r[2][3].V != "TRUE" {
		t.Errorf("row 3 %+v", r[2])
	}
}

func TestReadHostile(t *testing.T) {
	bomb := func(size int) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, body := range map[string]string{
			"xl/workbook.xml":            `<workbook><sheets><sheet name="資産" r:id="rId1" xmlns:r="r"/></sheets></workbook>`,
			"xl/_rels/workbook.xml.rels": `<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>`,
		} {
			w, _ := zw.Create(name)
			w.Write([]byte(body))
		}
		w, _ := zw.Create("xl/worksheets/sheet1.xml")
		w.Write([]byte(`<worksheet><sheetData>`))
		w.Write(bytes.Repeat([]byte(" "), size))
		w.Write([]byte(`</sheetData></worksheet>`))
		zw.Close()
		return buf.Bytes()
	}
	entity := testkit.RawXLSX(t, `<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><worksheet><sheetData><row><c t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>`, "")
	xxe := testkit.RawXLSX(t, `<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]><worksheet><sheetData><row><c t="inlineStr"><is><t>&x;</t></is></c></row></sheetData></worksheet>`, "")
	manyEntries := func() []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i := 0; i < 1100; i++ {
			zw.Create("x/" + strings.Repeat("a", i%50) + string(rune('a'+i%26)) + strconv.Itoa(i))
		}
		zw.Close()
		return buf.Bytes()
	}()
	cases := []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"ratio bomb", bomb(8 << 20), Limits{}, ErrLimit},
		{"total limit", bomb(2 << 20), Limits{MaxUncompressed: 1 << 20, MaxRatio: 100000}, ErrLimit},
		{"entries", manyEntries, Limits{}, ErrLimit},
		{"entity expansion", entity, Limits{}, ErrNotXLSX},
		{"external entity", xxe, Limits{}, ErrNotXLSX},
		{"not a zip", []byte("名称,種別\n"), Limits{}, ErrNotXLSX},
		{"rows", testkit.RawXLSX(t, `<worksheet><sheetData><row r="5000"/></sheetData></worksheet>`, ""), Limits{MaxRows: 100}, ErrLimit},
		{"columns", testkit.RawXLSX(t, `<worksheet><sheetData><row><c r="AAA1"><v>1</v></c></row></sheetData></worksheet>`, ""), Limits{}, ErrLimit},
		{"bad shared index", testkit.RawXLSX(t, `<worksheet><sheetData><row><c t="s"><v>7</v></c></row></sheetData></worksheet>`, ""), Limits{}, ErrNotXLSX},
	}
	for _, tc := range cases {
		_, err := Read(tc.data, tc.lim)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(xlsxOf(f, SheetData{Name: "資産", Header: []string{"名称", "保守期限"}, Rows: [][]string{{"CT", "R8.3.31"}}}))
	f.Add(testkit.RawXLSX(f, `<worksheet><sheetData><row r="1"><c r="A1"><v>46112</v></c></row></sheetData></worksheet>`, ""))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sheets, err := Read(data, Limits{MaxRows: 500, MaxCols: 50, MaxUncompressed: 4 << 20})
		if err != nil {
			return
		}
		for _, s := range sheets {
			if len(s.Rows) > 500 {
				t.Fatalf("%d rows past the limit", len(s.Rows))
			}
			for _, r := range s.Rows {
				if len(r) > 50 {
					t.Fatalf("%d columns past the limit", len(r))
				}
			}
		}
	})
}
