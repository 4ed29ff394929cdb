package web

import (
	"net/http"
	"testing"

	"github.com/medisac/medisac/internal/db"
)

// TestInventoryImportBusy: while an import of the hospital runs, another
// upload of the hospital is refused with 429 and a message saying to try
// again, the clinic imports, and once the first ends the hospital may
// import again.
func TestInventoryImportBusy(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		e.withDocuments(t)
		hosp := e.signedIn(e.staff, e.hosp)
		hosp.get("/inventory/import")
		clinic := e.signedIn(e.other, e.clinic)
		clinic.get("/inventory/import")
		csv := []byte("名称,種別\nPC-1,PC\n")

		release, err := e.srv.Imports.Acquire(e.hosp.ID)
		if err != nil {
			t.Fatal(err)
		}
		r := hosp.upload("/inventory/import", "a.csv", csv, nil)
		wantStatus(t, r, http.StatusTooManyRequests)
		wantContains(t, r, "別の取り込みを処理中です。終わってからもう一度お試しください。")
		wantStatus(t, clinic.upload("/inventory/import", "a.csv", csv, nil), http.StatusOK)
		release()
		wantStatus(t, hosp.upload("/inventory/import", "a.csv", csv, nil), http.StatusOK)
	})
}
