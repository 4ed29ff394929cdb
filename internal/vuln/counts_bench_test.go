package vuln

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/testkit"
)

// seedOrgFindings gives org n open findings over assets assets (written
// directly, as a matching run leaves them): every priority, a tenth in
// progress, a third to be confirmed, and a tenth of n more closed.
func seedOrgFindings(tb testing.TB, d *db.DB, org string, n, assets int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	err := d.InTx(ctx, func(tx *db.Tx) error {
		ab := newBatch(tx, "inv_assets", []string{"id", "org_id", "name", "kind", "vendor", "product", "version", "created_at", "updated_at"}, "", 300)
		ids := make([]string, assets)
		for i := range ids {
			ids[i] = db.NewID()
			if err := ab.add(ctx, ids[i], ids[i], org, fmt.Sprintf("機器%d", i), "network", "Fortinet", "FortiGate", "7.0.1", now, now); err != nil {
				return err
			}
		}
		if err := ab.flush(ctx); err != nil {
			return err
		}
		fb := newBatch(tx, "vuln_findings", []string{"id", "org_id", "asset_id", "vuln_id", "active", "confidence", "priority", "rank", "state", "first_seen", "changed_at"}, "", 200)
		closed := n / 10
		for i := range n + closed {
			active, state, conf := true, "open", "exact"
			if i%10 == 3 {
				state = "in_progress"
			}
			if i%3 == 1 {
				conf = "product"
			}
			if i >= n {
				active, state = false, "resolved"
			}
			id := db.NewID()
			if err := fb.add(ctx, id, id, org, ids[i%assets], fmt.Sprintf("CVE-2099-%06d", i/assets), active, conf, 1+(i*7)%4, (i*37)%10000, state, now, now); err != nil {
				return err
			}
		}
		return fb.flush(ctx)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkFindingsReads measures the three reads of an organisation with
// many findings that every visit makes: the first page of the findings
// list with its total (as the API gives it), the summary, and what the
// vulnerability page reads (summary, first page of 100, notifications).
// MEDISAC_BENCH_FINDINGS sets the organisation's open findings (40,300,
// as in the load benchmark, over 1,000 assets); another organisation has a
// tenth as many.
func BenchmarkFindingsReads(b *testing.B) {
	n := testkit.BenchSize("FINDINGS", 40300)
	testkit.BenchEach(b, func(b *testing.B, d *db.DB) {
		ctx := context.Background()
		org := newOrg(b, d, "大病院", "東京都")
		start := time.Now()
		seedOrgFindings(b, d, org, n, 1000)
		b.Logf("%d findings (and a tenth closed) written in %s", n, time.Since(start).Round(time.Millisecond))
		seedOrgFindings(b, d, newOrg(b, d, "別病院", "大阪府"), n/10, 100)
		if _, err := d.Exec(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
		b.Run("list", func(b *testing.B) {
			for b.Loop() {
				p, err := PageFindings(ctx, d, org, FindingFilter{}, "", 50)
				if err != nil || p.Total != n {
					b.Fatal(err, p.Total)
				}
			}
		})
		b.Run("summary", func(b *testing.B) {
			for b.Loop() {
				s, err := Summarise(ctx, d, org)
				if err != nil || s.Open+s.InProgress != n {
					b.Fatal(err, s)
				}
			}
		})
		b.Run("page", func(b *testing.B) {
			for b.Loop() {
				if _, err := Summarise(ctx, d, org); err != nil {
					b.Fatal(err)
				}
				if _, err := PageFindings(ctx, d, org, FindingFilter{}, "", DefaultFindingPage); err != nil {
					b.Fatal(err)
				}
				if _, err := ListNotifications(ctx, d, org, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
