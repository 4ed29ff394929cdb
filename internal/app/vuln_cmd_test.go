package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
	dir := t.TempDir()
	out, err := runCLI(t, dir, "org", "add", "--name", "脆弱性病院", "--kind", "hospital")
	if err != nil {
		t.Fatalf("org add: %v %s", err, out)
	}
	org := strings.TrimSpace(out)
	assets := filepath.Join(dir, "assets.csv")
	if err := os.WriteFile(assets, []byte("名称,種別,メーカー,製品名,バージョン\n玄関FW,ネットワーク機器,Fortinet,FortiGate,7.2.2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, dir, "inventory", "import", "--org", org, assets); err != nil {
		t.Fatalf("inventory import: %v %s", err, out)
	}
	td := filepath.Join("..", "vuln", "testdata")
	out, err = runCLI(t, dir, "vuln", "import", filepath.Join(td, "nvd", "CVE-2022-42475.json"), filepath.Join(td, "kev"), filepath.Join(td, "fortinet", "FG-IR-22-398.json"))
	if err != nil {
		t.Fatalf("vuln import: %v %s", err, out)
	}
	for _, want := range []string{"CVE-2022-42475.json: nvd, 1 records", "kev_trimmed.json: kev, 20 records", "FG-IR-22-398.json: fortinet"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"resultsPerPage":1,"startIndex":0,"totalResults":1,"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"CVE-1"}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
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

func BenchmarkStreamFindings(b *testing.B) {
	ctx := context.Background()
	d := dbtest.SQLite(b)
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	org, err := auth.CreateOrg(ctx, d, auth.OrgInput{Kind: auth.KindHospital, Name: "大病院", Prefecture: "東京都"}, now)
	if err != nil {
		b.Fatal(err)
	}
	a, err := inventory.CreateAsset(ctx, d, org.ID, "", inventory.Asset{Name: "機器", Kind: inventory.KindNetwork}, now)
	if err != nil {
		b.Fatal(err)
	}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		for i := range 20000 {
			if _, err := tx.Exec(ctx, `INSERT INTO vuln_findings (id, org_id, asset_id, vuln_id, confidence, priority, rank, first_seen, changed_at) VALUES (?, ?, ?, ?, 'exact', ?, ?, ?, ?)`,
				db.NewID(), org.ID, a.ID, fmt.Sprintf("CVE-2099-%05d", i), 1+i%4, i%100, now, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := streamFindings(ctx, d, org.ID, vuln.FindingFilter{}, "csv", io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
