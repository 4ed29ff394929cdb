package app

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
