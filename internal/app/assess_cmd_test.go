package app

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/testkit/seed"
	"github.com/medisac/medisac/internal/xlsx"
)

// TestAssessCommands: the command line exports a sheet as a workbook the
// reader reads back and loads an edition file, each through the
// checklists' service, so each leaves its entry naming the command line.
func TestAssessCommands(t *testing.T) {
	eachParityWorld(t, func(t *testing.T, w *parityWorld) {
		e := paritySheetEdition(w)
		fy := assess.FiscalYearOf(w.now)
		sheetID := seed.FilledSheet(t, w.n.DB, e, w.Hospital, w.users["hospital_admin"].ID, fy, assess.Today(w.now), w.now)

		out := filepath.Join(t.TempDir(), "sheet.xlsx")
		seq := w.lastSeq()
		w.CLI("assess", "export", "--org", w.Hospital, "--edition", e.ID, "--year", strconv.Itoa(fy), "--format", "xlsx", "--out", out)
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		book, err := xlsx.Read(data, xlsx.Limits{})
		if err != nil || len(book) != 2 || len(book[0].Rows) != 5+e.CellCount() {
			t.Fatalf("exported workbook: %v", err)
		}
		if got := w.entriesAfter(seq, sheetID); strings.Join(got, "|") != "data.export assess_sheet/<obj> in <hospital>" {
			t.Errorf("export entries %v", got)
		}

		src := "id: cli-loaded\nkind: survey\ntitle: 調査\nfiscal_year: 2026\nsections:\n  - id: s\n    title: S\n    items:\n      - {id: offline, text: オフラインのバックアップがある, type: yesno}\n"
		seq = w.lastSeq()
		if got := strings.TrimSpace(w.CLI("assess", "load", "--file", w.File("cli.yaml", []byte(src)))); got != "cli-loaded" {
			t.Fatalf("load printed %q", got)
		}
		var action, actor, details string
		if err := w.DB().QueryRow(w.ctx, `SELECT action, actor, details FROM audit_log WHERE seq > ? AND object_id = ?`, seq, "cli-loaded").Scan(&action, &actor, &details); err != nil {
			t.Fatal(err)
		}
		if action != "assess.edition.load" || !strings.HasPrefix(actor, "cli:") || !strings.Contains(details, `"via":"cli"`) {
			t.Errorf("load entry %s %s %s", action, actor, details)
		}
	})
}
