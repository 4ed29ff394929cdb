package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit"
)

// BenchmarkInventoryAPIListAssets measures the server time of
// GET /api/v1/orgs/{id}/inventory/assets (50 per page) with 100,000 assets
// in one organisation: first page, a page deep in the register, a search.
func BenchmarkInventoryAPIListAssets(b *testing.B) {
	testkit.BenchEach(b, func(b *testing.B, d *db.DB) {
		f := newFixture(b, d)
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{"名称", "種別", "ホスト名", "IPアドレス", "シリアル番号", "セグメント"})
		for i := 0; i < 100000; i++ {
			w.Write([]string{fmt.Sprintf("端末%06d", i), "PC", fmt.Sprintf("host%06d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
				fmt.Sprintf("SN%08d", i), []string{"医療系", "情報系"}[i%2]})
		}
		w.Flush()
		if p, err := inventory.ImportFile(context.Background(), d, i18n.MustLoad(), f.orgA.ID, f.adminA.user.ID, "bench.csv", buf.Bytes(), false, time.Now()); err != nil || !p.OK() {
			b.Fatalf("seed: %v", err)
		}
		base := "/api/v1/orgs/" + f.orgA.ID + "/inventory/assets"
		for _, q := range []struct{ name, path string }{{"first", base}, {"deep", base + "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("端末090000"))},
			{"search", base + "?q=host09999"}} {
			b.Run(q.name, func(b *testing.B) {
				for b.Loop() {
					if rec := f.do(b, "GET", q.path, f.staffA.read, ""); rec.Code != http.StatusOK {
						b.Fatalf("status %d", rec.Code)
					}
				}
			})
		}
	})
}
