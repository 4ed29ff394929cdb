package inventory

import (
	"context"
	"github.com/medisac/medisac/internal/testkit"
	"testing"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/xlsx"
)

// TestImportHugeSharedString: an import of a workbook holding one shared
// string of 64 MB names the cell limit in its preview.
func TestImportHugeSharedString(t *testing.T) {
	data := testkit.HugeSharedXLSX(t, 64<<20)
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		org := newOrg(t, d, "大きな病院")
		p, err := PreviewImport(context.Background(), d, testCat, org, "big.xlsx", data)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Errors) != 1 || p.Errors[0].Key != "inventory.import.xlsx_cell_too_long" || len(p.Errors[0].Args) != 1 || p.Errors[0].Args[0] != xlsx.MaxCellChars {
			t.Fatalf("preview errors %+v", p.Errors)
		}
	})
}
