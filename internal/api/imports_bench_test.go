package api

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

// registerCSV is a register file of n assets.
func registerCSV(n int, variant string) string {
	var b strings.Builder
	b.WriteString("名称,種別,設置場所,IPアドレス,メーカー,型番\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "PC-%06d,PC,%s棟%d階,10.%d.%d.%d,富士通,ESPRIMO D%d\n", i, variant, i%9+1, i>>16&255, i>>8&255, i&255, i%7)
	}
	return b.String()
}

// BenchmarkRegisterImportAPI100k applies a 100,000-row register through
// POST .../inventory/import/apply, alternating two versions of every row
// (each import changes all of them), in two ways: "sync", the answer
// waited for (it holds the whole preview, every row, and its JSON), and
// "async", with Prefer: respond-async and the job followed until done
// (the job keeps only the counts). peak-heap-MiB is the highest heap in
// use from the request to the end of the import.
func BenchmarkRegisterImportAPI100k(b *testing.B) {
	const n = 100000
	files := []string{registerCSV(n, "A"), registerCSV(n, "B")}
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var d *db.DB
			if backend == "sqlite" {
				d = dbtest.SQLite(b)
			} else {
				d = dbtest.Postgres(b)
			}
			f := newFixture(b, d)
			f.api.ImportJobs.Dir = b.TempDir()
			f.api.ImportWait = time.Hour
			path := "/api/v1/orgs/" + f.orgA.ID + "/inventory/import/apply?filename=register.csv"
			// The first import creates the rows; the measured ones change them.
			if rec := f.do(b, "POST", path, f.adminA.write, files[1], "Prefer", "respond-async"); rec.Code != http.StatusAccepted {
				b.Fatalf("seed import: %d %s", rec.Code, rec.Body)
			} else {
				waitJobB(b, f, decodeBody[jobJSON](b, rec).ID)
			}
			k := 0
			for _, mode := range []string{"sync", "async"} {
				b.Run(mode, func(b *testing.B) {
					var peak float64
					for i := 0; i < b.N; i++ {
						runtime.GC()
						body := files[k%2]
						k++
						peak = max(peak, testkit.PeakHeapMiB(10*time.Millisecond, func() {
							if mode == "sync" {
								rec := f.do(b, "POST", path, f.adminA.write, body)
								if rec.Code != http.StatusOK {
									b.Fatalf("import: %d %.300s", rec.Code, rec.Body)
								}
								return
							}
							rec := f.do(b, "POST", path, f.adminA.write, body, "Prefer", "respond-async")
							if rec.Code != http.StatusAccepted {
								b.Fatalf("import: %d %.300s", rec.Code, rec.Body)
							}
							if j := waitJobB(b, f, decodeBody[jobJSON](b, rec).ID); j.State != "done" {
								b.Fatalf("job: %+v", j)
							}
						}))
					}
					b.ReportMetric(peak, "peak-heap-MiB")
				})
			}
		})
	}
}

func waitJobB(b *testing.B, f *fixture, id string) jobJSON {
	b.Helper()
	for {
		rec := f.do(b, "GET", "/api/v1/imports/"+id, f.adminA.read, "")
		j := decodeBody[jobJSON](b, rec)
		if j.State != "queued" && j.State != "running" {
			return j
		}
		time.Sleep(50 * time.Millisecond)
	}
}
