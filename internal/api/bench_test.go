package api

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/testkit"
)

// getMe asks GET /api/v1/me with the read token of staff A.
func getMe(f *fixture) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/api/v1/me", nil)
	r.RemoteAddr = "192.0.2.10:41000"
	r.Header.Set("Authorization", "Bearer "+f.staffA.read)
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, r)
	return w
}

// BenchmarkAPIGetMe measures authenticated GET /api/v1/me through the real
// handler (token lookup, user, organisation and memberships) on both
// databases, reporting the 99th percentile latency beside ns/op.
func BenchmarkAPIGetMe(b *testing.B) {
	testkit.BenchEach(b, func(b *testing.B, d *db.DB) {
		f := newFixture(b, d)
		f.clock.Advance(time.Hour)
		req := func() {
			if w := getMe(f); w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
		req()
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			start := time.Now()
			req()
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[(len(lat)*99)/100].Nanoseconds()), "p99-ns")
	})
}

// BenchmarkAPIGetMeParallel is BenchmarkAPIGetMe with concurrent clients
// (GOMAXPROCS of them; run with -cpu 2 for the two-core figure).
func BenchmarkAPIGetMeParallel(b *testing.B) {
	testkit.BenchEach(b, func(b *testing.B, d *db.DB) {
		f := newFixture(b, d)
		f.clock.Advance(time.Hour)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if w := getMe(f); w.Code != http.StatusOK {
					b.Errorf("status %d", w.Code)
					return
				}
			}
		})
	})
}
