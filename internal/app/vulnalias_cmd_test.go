package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/vuln"
	"github.com/medisac/medisac/internal/vuln/match"
)

func TestVulnAliasCommands(t *testing.T) {
	dir := t.TempDir()
	if out, err := runCLI(t, dir, "migrate"); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	out, err := runCLI(t, dir, "vuln", "aliases", "export")
	if err != nil || !strings.Contains(out, "フォーティネット") {
		t.Fatalf("export: %v %.200s", err, out)
	}
	exported := filepath.Join(dir, "aliases.json")
	if out, err := runCLI(t, dir, "vuln", "aliases", "export", exported); err != nil {
		t.Fatalf("export to a file: %v %s", err, out)
	}
	if b, err := os.ReadFile(exported); err != nil || string(b) != string(match.ShippedAliasesJSON()) {
		t.Fatalf("exported file is not the shipped table: %v", err)
	}

	bad := testkit.WriteFile(t, dir, "bad.json", []byte(`{"vendors":[{"cpe":"fortinet","names":["ヤマハ"]},{"cpe":"yamaha","names":["ヤマハ"]}],"products":[]}`))
	out, err = runCLI(t, dir, "vuln", "aliases", "import", bad)
	if err == nil || !strings.Contains(err.Error(), "「ヤマハ」") || !strings.Contains(err.Error(), "表は変更していません") || !strings.Contains(err.Error(), "The table was not changed") {
		t.Errorf("bad table: %v %s", err, out)
	}

	f := match.DefaultAliases().File()
	f.Vendors[0].Names = append(f.Vendors[0].Names, "ふぉーちねっと")
	good := testkit.WriteFile(t, dir, "good.json", match.EncodeAliases(f))
	out, err = runCLI(t, dir, "vuln", "aliases", "import", good, "--note", "院内の書き方")
	if err != nil || !strings.Contains(out, vuln.ShippedAliasesVersion()+" →") {
		t.Fatalf("import: %v %s", err, out)
	}
	out, err = runCLI(t, dir, "vuln", "aliases", "export")
	if err != nil || !strings.Contains(out, "ふぉーちねっと") {
		t.Errorf("export after import: %v %.200s", err, out)
	}
	out, err = runCLI(t, dir, "vuln", "aliases", "import", good)
	if err != nil || !strings.Contains(out, "nothing changed") {
		t.Errorf("same table again: %v %s", err, out)
	}
	if _, err := runCLI(t, dir, "vuln", "aliases", "import"); err == nil {
		t.Error("import without a file accepted")
	}
	if _, err := runCLI(t, dir, "vuln", "aliases", "rename"); err == nil {
		t.Error("unknown sub-command accepted")
	}
}
