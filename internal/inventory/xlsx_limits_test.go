package inventory

import (
	"archive/zip"
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/xlsx"
)

// hugeSharedXLSX builds a workbook whose one shared string is n bytes of
// text that deflates about 25:1, well inside the ratio check, as a hostile
// file would.
func hugeSharedXLSX(t testing.TB, n int) []byte {
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

// TestImportHugeSharedString: an import of a workbook holding one shared
// string of 64 MB names the cell limit in its preview.
func TestImportHugeSharedString(t *testing.T) {
	data := hugeSharedXLSX(t, 64<<20)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		org := newOrg(t, d, "大きな病院")
		p, err := PreviewImport(context.Background(), d, org, "big.xlsx", data)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Errors) != 1 || p.Errors[0].Key != "inventory.import.xlsx_cell_too_long" || len(p.Errors[0].Args) != 1 || p.Errors[0].Args[0] != xlsx.MaxCellChars {
			t.Fatalf("preview errors %+v", p.Errors)
		}
	})
}
