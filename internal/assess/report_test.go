package assess

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/xlsx"
)

// needPDFTools skips (or, with MEDISAC_TEST_REQUIRE=pdf, fails) when the
// pdftotext is missing.
func needPDFTools(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("pdftotext")
	if err != nil {
		dbtest.SkipOrFail(t, "pdf", "pdftotext not installed (poppler-utils)")
	}
	return p
}

func filledReport(t testing.TB, d *db.DB) Report {
	t.Helper()
	ctx := context.Background()
	e := r7(t)
	o := mkOrg(t, d, auth.KindHospital, "みなと総合病院")
	s, err := StartSheet(ctx, d, e, o.ID, 2025, "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	in := []Answer{{ItemID: "has_system", Answer1: AnsYes, Date1: "2025-06-01"}}
	for _, it := range e.Items()[1:] {
		for _, c := range it.CellIDs() {
			in = append(in, Answer{ItemID: it.ID, Cell: c, Answer1: AnsYes, Date1: "2025-06-02"})
		}
	}
	for i := range in {
		if in[i].ItemID == "source_restrict" {
			in[i].Answer1, in[i].Target, in[i].Comment = AnsNo, "2025-11-30", "無線LANのMACアドレス制限を設定予定"
		}
	}
	if err := d.InTx(ctx, func(tx *db.Tx) error {
		_, err := SaveAnswers(ctx, tx, e, o.ID, s.ID, "u1", in, testNow)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := AddEvidence(ctx, d, e, o.ID, s.ID, "backup", "u1", EvidenceInput{Name: "復旧手順.txt", Data: []byte("手順\n")}, testNow); err != nil {
		t.Fatal(err)
	}
	s, err = Sign(ctx, d, e, signer(o.ID, "u1", true), o.ID, s.ID, "院長 山田太郎", testNow)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := ListEvidence(ctx, d, o.ID, s.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	return Report{Edition: e, Sheet: s, OrgName: o.Name, Evidence: evs, Now: testNow}
}

// TestPDFReport renders a filled sheet and reads it back with pdftotext:
// the Japanese item texts, answers, dates and the 要確認 marks are there,
// so the font was embedded and the text is real text.
func TestPDFReport(t *testing.T) {
	tool := needPDFTools(t)
	d := dbtest.SQLite(t)
	r := filledReport(t, d)
	var buf bytes.Buffer
	if err := WritePDF(&buf, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	if !bytes.Contains(buf.Bytes(), []byte("/FontFile2")) {
		t.Error("font not embedded")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "r.pdf")
	if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-raw", "-enc", "UTF-8", in, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(out)), "")
	for _, want := range []string{
		"医療機関におけるサイバーセキュリティ対策チェックリスト（医療機関確認用）",
		"みなと総合病院", "令和7年度",
		"医療情報システムを導入、運用している。",
		"接続元制限を実施している。",
		"パスワードの使い回しを禁止している。",
		"はい", "いいえ", "2025/06/02", "2025/11/30",
		"ネットワーク機器", "端末PC",
		"【要確認】", "院長山田太郎", "復旧手順.txt",
		"無線LANのMACアドレス制限を設定予定",
	} {
		if !strings.Contains(text, strings.Join(strings.Fields(want), "")) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	// Every item text survives wrapping (no character is lost at a line end).
	for _, it := range r.Edition.Items() {
		if !strings.Contains(text, strings.Join(strings.Fields(it.Text), "")) {
			t.Errorf("PDF text lacks item %s %q", it.Number, it.Text)
		}
	}
}

func TestXLSXReport(t *testing.T) {
	d := dbtest.SQLite(t)
	r := filledReport(t, d)
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, r); err != nil {
		t.Fatal(err)
	}
	book, err := xlsx.Read(buf.Bytes(), xlsx.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(book) != 2 || book[0].Name != "チェックリスト" || book[1].Name != "証跡" {
		t.Fatalf("sheets %+v", book)
	}
	rows, ev := cellText(book[0].Rows), cellText(book[1].Rows)
	found := false
	for _, row := range rows {
		if len(row) > 7 && row[2] == "接続元制限を実施している。" {
			found = row[4] == "ネットワーク機器" && row[5] == "いいえ" && row[7] == "2025-11-30"
		}
	}
	if !found {
		t.Errorf("answer row missing: %v", rows)
	}
	if len(rows) != 5+r.Edition.CellCount() {
		t.Errorf("%d rows for %d cells", len(rows), r.Edition.CellCount())
	}
	if len(ev) != 2 || ev[1][3] != "復旧手順.txt" {
		t.Errorf("evidence sheet %v", ev)
	}
}

// cellText turns read rows into their text.
func cellText(rows [][]xlsx.Cell) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		for _, c := range r {
			out[i] = append(out[i], c.V)
		}
	}
	return out
}

func TestNoFont(t *testing.T) {
	t.Setenv(FontEnv, filepath.Join(t.TempDir(), "missing.ttf"))
	err := WritePDF(&bytes.Buffer{}, Report{Edition: r7(t), Sheet: &Sheet{}, Now: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "assess.report.no_font") {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkPDFReport measures one report of the R7 institution sheet with
// every cell answered.
func BenchmarkPDFReport(b *testing.B) {
	d := dbtest.SQLite(b)
	r := filledReport(b, d)
	b.ResetTimer()
	for b.Loop() {
		if err := WritePDF(&bytes.Buffer{}, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkXLSXReport measures one workbook of the R7 institution sheet
// with every cell answered.
func BenchmarkXLSXReport(b *testing.B) {
	d := dbtest.SQLite(b)
	r := filledReport(b, d)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := WriteXLSX(&bytes.Buffer{}, r); err != nil {
			b.Fatal(err)
		}
	}
}
