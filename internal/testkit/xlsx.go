package testkit

import (
	"archive/zip"
	"bytes"
	"math/rand/v2"
	"testing"
)

// RawXLSX builds a workbook from hand-written sheet XML (to test numeric
// cells, shared strings and hostile content).
func RawXLSX(t testing.TB, sheetXML, shared string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	files := map[string]string{
		"[Content_Types].xml":        `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
		"xl/workbook.xml":            `<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="資産" sheetId="1" r:id="rId1"/></sheets></workbook>`,
		"xl/_rels/workbook.xml.rels": `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="x" Target="/xl/worksheets/sheet1.xml"/></Relationships>`,
		"xl/worksheets/sheet1.xml":   sheetXML,
	}
	if shared != "" {
		files["xl/sharedStrings.xml"] = shared
	}
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	return buf.Bytes()
}

// HugeSharedXLSX builds a workbook whose one shared string is n bytes of
// text that deflates about 25:1, well inside the ratio check, as a hostile
// file would.
func HugeSharedXLSX(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	put("xl/workbook.xml", `<workbook xmlns:r="r"><sheets><sheet name="資産" r:id="rId1"/></sheets></workbook>`)
	put("xl/_rels/workbook.xml.rels", `<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>`)
	put("xl/worksheets/sheet1.xml", `<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>`)
	w, err := zw.Create("xl/sharedStrings.xml")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(`<sst><si><t>`))
	rng := rand.New(rand.NewPCG(1, 2))
	chunk := make([]byte, 64<<10)
	for written := 0; written < n; written += len(chunk) {
		for i := range chunk {
			if rng.IntN(8) == 0 {
				chunk[i] = byte('a' + rng.IntN(26))
			} else {
				chunk[i] = 'x'
			}
		}
		w.Write(chunk)
	}
	w.Write([]byte(`</t></si></sst>`))
	zw.Close()
	return buf.Bytes()
}
