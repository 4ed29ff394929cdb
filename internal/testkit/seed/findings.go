package seed

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
)

// Finding is how one synthetic finding looks; State empty is "open".
type Finding struct {
	Active         bool
	Priority, Rank int
	State          string
}

// Findings gives org n synthetic findings of confidence "exact", the i-th
// on CVE-2099-<i> and assets[i%len(assets)], shaped by shape(i), written
// in batches of 100.
func Findings(t testing.TB, d *db.DB, org string, assets []string, n int, now time.Time, shape func(i int) Finding) {
	t.Helper()
	ctx := context.Background()
	err := d.InTx(ctx, func(tx *db.Tx) error {
		for start := 0; start < n; start += 100 {
			var vals []string
			var args []any
			for i := start; i < min(start+100, n); i++ {
				f := shape(i)
				if f.State == "" {
					f.State = "open"
				}
				vals = append(vals, "(?, ?, ?, ?, ?, 'exact', ?, ?, ?, ?, ?)")
				args = append(args, db.NewID(), org, assets[i%len(assets)], fmt.Sprintf("CVE-2099-%05d", i), f.Active, f.Priority, f.Rank, f.State, now, now)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO vuln_findings (id, org_id, asset_id, vuln_id, active, confidence, priority, rank, state, first_seen, changed_at) VALUES `+
				strings.Join(vals, ", "), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed %d findings: %v", n, err)
	}
}
