package web

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit"
)

// seedAssets imports n assets into org (outside the benchmark timer).
func seedAssets(b *testing.B, d *db.DB, orgID, actorID string, n int) {
	b.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"名称", "種別", "ホスト名", "IPアドレス", "シリアル番号", "セグメント", "保守期限"})
	kinds := []string{"サーバ", "PC", "ネットワーク機器", "医療機器", "IoT", "プリンタ"}
	segs := []string{"医療系", "情報系", "保守用", "ゲスト"}
	for i := 0; i < n; i++ {
		w.Write([]string{fmt.Sprintf("端末%06d", i), kinds[i%len(kinds)], fmt.Sprintf("host%06d", i),
			fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), fmt.Sprintf("SN%08d", i), segs[i%len(segs)], "R9.3.31"})
	}
	w.Flush()
	p, err := inventory.ImportFile(bg, d, i18n.MustLoad(), orgID, actorID, "bench.csv", buf.Bytes(), false, time.Now())
	if err != nil || !p.OK() {
		b.Fatalf("seed: %v %+v", err, p.Errors)
	}
}

// BenchmarkInventoryAssetListPage measures the server time of the asset
// list page (50 rows with flags) with 100,000 assets in one organisation:
// the first page, a page deep in the register and a text search.
func BenchmarkInventoryAssetListPage(b *testing.B) {
	testkit.BenchEach(b, func(b *testing.B, d *db.DB) {
		e := newEnv(b, d)
		seedAssets(b, d, e.hosp.ID, e.admin.ID, 100000)
		raw, _, err := auth.CreateSession(bg, d, e.staff.ID, e.hosp.ID, true, "127.0.0.1", "bench", auth.DefaultSessionPolicy, e.clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		deep := "/inventory?after=" + base64.RawURLEncoding.EncodeToString([]byte("端末090000"))
		for _, pg := range []struct{ name, path string }{{"first", "/inventory"}, {"deep", deep}, {"search", "/inventory?q=host09999"}} {
			b.Run(pg.name, func(b *testing.B) {
				for b.Loop() {
					req := httptest.NewRequest(http.MethodGet, pg.path, nil)
					req.AddCookie(&http.Cookie{Name: sessionCookie, Value: raw})
					rec := httptest.NewRecorder()
					e.srv.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d", rec.Code)
					}
				}
			})
		}
	})
}
