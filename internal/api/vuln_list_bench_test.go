package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/testkit"
)

// seedVulnCorpus stores n vulnerabilities the way an NVD-sized corpus
// looks to the list: modified times spread over years (some missing),
// one in 100 in KEV, every one with an EPSS score.
func seedVulnCorpus(tb testing.TB, d *db.DB, n int) {
	tb.Helper()
	ctx := context.Background()
	base := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	err := d.InTx(ctx, func(tx *db.Tx) error {
		const step = 200
		for start := 0; start < n; start += step {
			var vv, kv, ev []string
			var va, ka, ea []any
			for i := start; i < min(start+step, n); i++ {
				id := fmt.Sprintf("CVE-%d-%05d", 2015+i%10, i)
				var mod any
				if i%97 != 0 {
					mod = base.Add(time.Duration(i*7919%n) * 37 * time.Minute)
				}
				vv = append(vv, "(?, ?, ?, ?, ?, ?, ?)")
				va = append(va, id, "Title "+id, "A flaw in product "+fmt.Sprint(i%500)+" lets a remote attacker do harm.", mod, mod, 5+float64(i%50)/10, base)
				if i%100 == 7 {
					kv = append(kv, "(?, ?, ?)")
					ka = append(ka, id, "2024-01-01", base)
				}
				ev = append(ev, "(?, ?, ?, ?)")
				ea = append(ea, id, float64(i%1000)/1000, float64(i%1000)/1000, base)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO vuln_vulns (id, title, description, published, modified, cvss_score, updated_at) VALUES `+strings.Join(vv, ", "), va...); err != nil {
				return err
			}
			if len(kv) > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO vuln_kev (cve, added, updated_at) VALUES `+strings.Join(kv, ", "), ka...); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO vuln_epss (cve, score, percentile, updated_at) VALUES `+strings.Join(ev, ", "), ea...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if d.Dialect() == db.Postgres {
		if _, err := d.Exec(ctx, `ANALYZE`); err != nil {
			tb.Fatal(err)
		}
	} else if _, err := d.Exec(ctx, `ANALYZE`); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkAPIVulnList measures GET /api/v1/vulns over 120,000
// vulnerabilities: the first page, a page reached by a cursor about
// 100,000 rows deep, the first page of known-exploited ones, and
// offset=100000.
func BenchmarkAPIVulnList(b *testing.B) {
	testkit.BenchEach(b, func(b *testing.B, d *db.DB) {
		f := newFixture(b, d)
		seedVulnCorpus(b, d, 120_000)
		get := func(b *testing.B, path string) vulnListBody {
			rec := f.do(b, "GET", path, f.adminA.read, "")
			var out vulnListBody
			if rec.Code == http.StatusOK {
				if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
					b.Fatal(err)
				}
			}
			out.status = rec.Code
			return out
		}
		run := func(name, path string) {
			b.Run(name, func(b *testing.B) {
				if got := get(b, path); got.status != http.StatusOK {
					b.Skipf("%s: status %d", path, got.status)
				}
				b.ResetTimer()
				for b.Loop() {
					get(b, path)
				}
			})
		}
		run("first_page", "/api/v1/vulns?limit=50")
		run("kev", "/api/v1/vulns?kev=1&limit=50")
		run("offset_100000", "/api/v1/vulns?limit=50&offset=100000")
		// Walk to about 100,000 rows deep with 200-row pages.
		next := ""
		for i := 0; i < 500; i++ {
			p := get(b, "/api/v1/vulns?limit=200&cursor="+url.QueryEscape(next))
			if p.Next == "" {
				break
			}
			next = p.Next
		}
		if next != "" {
			run("cursor_100000", "/api/v1/vulns?limit=50&cursor="+url.QueryEscape(next))
		}
	})
}

type vulnListBody struct {
	Vulnerabilities []struct {
		ID string `json:"id"`
	} `json:"vulnerabilities"`
	Next   string `json:"next_cursor"`
	status int
}
