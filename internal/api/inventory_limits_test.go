package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// TestImportOnePerOrganisation runs an import of organisation A whose
// upload is still arriving: a second import of A is refused at once with
// 429 and a message saying why, an import of B runs, and once the first
// has finished A may import again.
func TestImportOnePerOrganisation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		baseA := "/api/v1/orgs/" + f.orgA.ID + "/inventory/import/preview?filename=a.csv"
		baseB := "/api/v1/orgs/" + f.orgB.ID + "/inventory/import/preview?filename=a.csv"
		csv := "名称,種別\nPC-1,PC\n"

		// The first import of A: its body is a pipe the test writes later.
		pr, pw := io.Pipe()
		r := httptest.NewRequest("POST", "/api/v1/orgs/"+f.orgA.ID+"/inventory/import/apply?filename=a.csv", pr)
		r.RemoteAddr = "192.0.2.10:41000"
		r.Header.Set("Authorization", "Bearer "+f.adminA.write)
		first := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.api.ServeHTTP(first, r)
		}()
		// Wait until the first import holds its place (its handler is
		// reading the body).
		deadline := time.Now().Add(10 * time.Second)
		var second *httptest.ResponseRecorder
		for {
			second = f.do(t, "POST", baseA, f.staffA.write, csv)
			if second.Code == http.StatusTooManyRequests || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if second.Code != http.StatusTooManyRequests {
			t.Fatalf("second import of A while one runs: %d %s", second.Code, second.Body)
		}
		if e := apiError(t, second); e.Code != "rate_limited" || !strings.Contains(e.Message, "別の取り込みを処理中です") {
			t.Fatalf("second import of A: %+v", e)
		}
		if rec := f.do(t, "POST", baseB, f.adminB.write, csv); rec.Code != http.StatusOK {
			t.Fatalf("import of B while A imports: %d %s", rec.Code, rec.Body)
		}
		if _, err := io.WriteString(pw, csv); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		<-done
		if first.Code != http.StatusOK || !strings.Contains(first.Body.String(), `"ok":true`) {
			t.Fatalf("first import of A: %d %s", first.Code, first.Body)
		}
		if rec := f.do(t, "POST", baseA, f.staffA.write, csv); rec.Code != http.StatusOK {
			t.Fatalf("import of A after the first finished: %d %s", rec.Code, rec.Body)
		}
	})
}
