package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/xlsx"
)

func TestInventoryCommands(t *testing.T) {
	dir, org := cliHospital(t, "台帳病院")
	write := func(name, content string) string { return testkit.WriteFile(t, dir, name, []byte(content)) }
	good := write("good.csv", "\ufeff名称,種別,保守期限,セグメント\n電子カルテサーバ,サーバ,R9.3.31,情報系\nCT,医療機器,2027/3/31,医療系\n")
	bad := write("bad.csv", "名称,種別,保守期限\nPC-1,PC,R8.2.30\nPC-1,PC,\n")
	noName := write("noname.csv", "種別\nPC\n")

	// --dry-run prints the preview and writes nothing.
	out, err := runCLI(t, dir, "inventory", "import", "--org", org, "--dry-run", good)
	if err != nil || !strings.Contains(out, "新規 new 2") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: %v %s", err, out)
	}
	out, err = runCLI(t, dir, "inventory", "export", "--org", org, "--format", "json", "--out", filepath.Join(dir, "empty.json"))
	if err != nil {
		t.Fatalf("export: %v %s", err, out)
	}
	var reg inventory.Register
	b, _ := os.ReadFile(filepath.Join(dir, "empty.json"))
	if err := json.Unmarshal(b, &reg); err != nil || len(reg.Assets) != 0 {
		t.Fatalf("dry run wrote assets: %v %d", err, len(reg.Assets))
	}

	// Errors: non-zero exit, sheet/row/column in both languages, nothing
	// written.
	for _, tc := range []struct {
		file string
		want []string
	}{
		{bad, []string{"2 行目", "row 2", "列「保守期限」", "column 保守期限", "日付", "not a date", "3 行目"}},
		{noName, []string{"名称", "name"}},
	} {
		out, err = runCLI(t, dir, "inventory", "import", "--org", org, tc.file)
		if err == nil || ExitCode(err) == 0 {
			t.Fatalf("%s: imported: %s", tc.file, out)
		}
		testkit.ContainsAll(t, tc.file+": output", out+err.Error(), tc.want...)
	}
	if out, err := runCLI(t, dir, "inventory", "import", "--org", org, filepath.Join(dir, "missing.csv")); err == nil {
		t.Fatalf("missing file: %s", out)
	}
	if _, err := runCLI(t, dir, "inventory", "import", "--org", "01900000-0000-7000-8000-000000000000", good); err == nil {
		t.Fatal("unknown organisation accepted")
	}
	if _, err := runCLI(t, dir, "inventory", "import", good); err == nil || ExitCode(err) != 2 {
		t.Fatalf("no --org: %v", err)
	}

	// Apply, then re-import changes nothing.
	out, err = runCLI(t, dir, "inventory", "import", good, "--org", org)
	if err != nil || !strings.Contains(out, "imported") {
		t.Fatalf("import: %v %s", err, out)
	}
	out, err = runCLI(t, dir, "inventory", "import", "--org", org, "--dry-run", good)
	if err != nil || !strings.Contains(out, "変更なし unchanged 2") {
		t.Fatalf("re-import preview: %v %s", err, out)
	}

	// nmap XML from the shared samples.
	if files, _ := filepath.Glob("../../../shared/data/nmap/*.xml"); len(files) > 0 {
		out, err = runCLI(t, dir, "inventory", "import", "--org", org, "--dry-run", files[0])
		if err != nil || !strings.Contains(out, "nmap:") {
			t.Fatalf("nmap dry run: %v %s", err, out)
		}
	}
	hostile := write("xxe.xml", `<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/passwd">]><nmaprun>&x;</nmaprun>`)
	if out, err := runCLI(t, dir, "inventory", "import", "--org", org, hostile); err == nil || !strings.Contains(err.Error(), "nmap") {
		t.Fatalf("entity file: %v %s", err, out)
	}

	// Export in every format.
	for _, f := range []string{"xlsx", "csv", "json"} {
		p := filepath.Join(dir, "out."+f)
		if out, err := runCLI(t, dir, "inventory", "export", "--org", org, "--format", f, "--out", p); err != nil {
			t.Fatalf("export %s: %v %s", f, err, out)
		}
		b, _ := os.ReadFile(p)
		switch f {
		case "xlsx":
			sheets, err := xlsx.Read(b, xlsx.DefaultLimits)
			if err != nil || len(sheets) < 3 || len(sheets[0].Rows) != 3 {
				t.Fatalf("xlsx export: %v %d", err, len(sheets))
			}
		case "csv":
			if !strings.Contains(string(b), "電子カルテサーバ") || !strings.HasPrefix(string(b), "\ufeff") {
				t.Fatalf("csv export: %q", b[:min(len(b), 100)])
			}
		case "json":
			if err := json.Unmarshal(b, &reg); err != nil || len(reg.Assets) != 2 || len(reg.Segments) != 2 {
				t.Fatalf("json export: %v %d", err, len(reg.Assets))
			}
		}
	}
	if _, err := runCLI(t, dir, "inventory", "export", "--org", org, "--format", "pdf", "--out", filepath.Join(dir, "x.pdf")); err == nil || ExitCode(err) != 2 {
		t.Fatalf("bad format: %v", err)
	}
	if out, err := runCLI(t, dir, "audit", "verify"); err != nil {
		t.Fatalf("audit after inventory commands: %v %s", err, out)
	}
}
