package inventory

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

// benchCSV returns an asset CSV with n rows, with every column filled.
func benchCSV(n int) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(fieldHeaders(assetFields))
	kinds := []string{"サーバ", "PC", "ネットワーク機器", "医療機器", "IoT", "プリンタ"}
	segs := []string{"医療系", "情報系", "保守用", "ゲスト"}
	for i := 0; i < n; i++ {
		w.Write([]string{
			fmt.Sprintf("端末%06d", i), kinds[i%len(kinds)], "受付", "メーカー", "製品", "MODEL-1", "1.2.3", fmt.Sprintf("SN%08d", i),
			fmt.Sprintf("host%06d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "", segs[i%len(segs)], "1階", "医事課", "A社",
			"R9.3.31", "いいえ", "はい", "いいえ", "", "備考", "いいえ", "不明", "使用中", "不明", "", "", "",
		})
	}
	w.Flush()
	return buf.Bytes()
}

func benchDBs(b *testing.B, fn func(b *testing.B, d *db.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, dbtest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, dbtest.Postgres(b)) })
}

// BenchmarkImportAssets100k imports a 100,000-row asset CSV into an empty
// organisation (preview and apply in one transaction), then re-imports it
// unchanged. peak-heap-MiB is the highest heap in use during the import.
func BenchmarkImportAssets100k(b *testing.B) {
	const n = 100000
	data := benchCSV(n)
	benchDBs(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		b.Run("new", func(b *testing.B) {
			var peak float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				org := newOrg(b, d, fmt.Sprintf("bench %d", i))
				runtime.GC()
				b.StartTimer()
				peak = max(peak, testkit.PeakHeapMiB(20*time.Millisecond, func() {
					p, err := ImportFile(ctx, d, testCat, org, "", "assets.csv", data, false, t0)
					if err != nil || p.Counts[SheetAssets][RowNew] != n {
						b.Fatalf("import: %v", err)
					}
				}))
			}
			b.ReportMetric(peak, "peak-heap-MiB")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
		b.Run("unchanged", func(b *testing.B) {
			org := newOrg(b, d, "reimport")
			if _, err := ImportFile(ctx, d, testCat, org, "", "assets.csv", data, false, t0); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			b.ResetTimer()
			var peak float64
			for i := 0; i < b.N; i++ {
				peak = max(peak, testkit.PeakHeapMiB(20*time.Millisecond, func() {
					p, err := ImportFile(ctx, d, testCat, org, "", "assets.csv", data, false, t0)
					if err != nil || p.Counts[SheetAssets][RowUnchanged] != n {
						b.Fatalf("re-import: %v", err)
					}
				}))
			}
			b.ReportMetric(peak, "peak-heap-MiB")
		})
	})
}

// BenchmarkListAssets100k lists pages of 50 from an organisation with
// 100,000 assets: the first page, a page deep in the list (keyset cursor),
// a kind filter and a text search.
func BenchmarkListAssets100k(b *testing.B) {
	const n = 100000
	data := benchCSV(n)
	benchDBs(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		org := newOrg(b, d, "list")
		if _, err := ImportFile(ctx, d, testCat, org, "", "assets.csv", data, false, t0); err != nil {
			b.Fatal(err)
		}
		other := newOrg(b, d, "other")
		if _, err := ImportFile(ctx, d, testCat, other, "", "assets.csv", benchCSV(1000), false, t0); err != nil {
			b.Fatal(err)
		}
		if d.Dialect() == db.Postgres {
			d.Exec(ctx, "ANALYZE")
		}
		deep := ""
		{
			p, err := ListAssets(ctx, d, org, AssetFilter{Limit: 1, Cursor: encodeCursor("端末080000")})
			if err != nil || len(p.Assets) != 1 {
				b.Fatal(err)
			}
			deep = encodeCursor(p.Assets[0].Name)
		}
		cases := []struct {
			name string
			f    AssetFilter
		}{
			{"first-page", AssetFilter{Limit: 50}},
			{"deep-page", AssetFilter{Limit: 50, Cursor: deep}},
			{"kind-filter", AssetFilter{Limit: 50, Kind: KindMedical, Cursor: deep}},
			{"search", AssetFilter{Limit: 50, Query: "host09999"}},
		}
		for _, tc := range cases {
			b.Run(tc.name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					p, err := ListAssets(ctx, d, org, tc.f)
					if err != nil || len(p.Assets) == 0 {
						b.Fatalf("list: %v %d", err, len(p.Assets))
					}
				}
			})
		}
	})
}
