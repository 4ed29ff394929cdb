package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
		// reading the body), looking without taking a place, so the first
		// import cannot be refused because of the test.
		deadline := time.Now().Add(2 * time.Minute)
		for f.api.Imports.Running(f.orgA.ID) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the first import never took its place")
			}
			time.Sleep(10 * time.Millisecond)
		}
		second := f.do(t, "POST", baseA, f.staffA.write, csv)
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

// TestAPIVulnListPaging: GET /api/v1/vulns pages with next_cursor through
// every row once; offset works up to its bound and is refused past it
// with a message pointing to cursor; a broken cursor is a 400 on it.
func TestAPIVulnListPaging(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		seedVulnCorpus(t, d, 2500)
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("the walk does not end")
			}
			rec := f.do(t, "GET", "/api/v1/vulns?limit=200&cursor="+url.QueryEscape(cursor), f.staffA.read, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("page: %d %s", rec.Code, rec.Body)
			}
			var p vulnListBody
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			for _, v := range p.Vulnerabilities {
				if seen[v.ID] {
					t.Fatalf("%s twice", v.ID)
				}
				seen[v.ID] = true
			}
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		if len(seen) != 2500 {
			t.Fatalf("%d vulnerabilities walked", len(seen))
		}
		if rec := f.do(t, "GET", "/api/v1/vulns?limit=10&offset=1000", f.staffA.read, ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"next_cursor"`) {
			t.Fatalf("offset 1000: %d %s", rec.Code, rec.Body)
		}
		rec := f.do(t, "GET", "/api/v1/vulns?offset=100000", f.adminA.read, "")
		if e := apiError(t, rec); rec.Code != http.StatusBadRequest || e.Field != "offset" || !strings.Contains(e.Message, "cursor") {
			t.Fatalf("offset 100000: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "GET", "/api/v1/vulns?cursor=broken", f.adminA.read, "")
		if e := apiError(t, rec); rec.Code != http.StatusBadRequest || e.Field != "cursor" {
			t.Fatalf("broken cursor: %d %+v", rec.Code, e)
		}
	})
}
