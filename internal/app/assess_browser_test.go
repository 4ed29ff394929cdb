package app

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

// evidencePDF is a small valid PDF used as uploaded evidence.
var evidencePDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

// TestBrowserAssessSheet drives the checklist in a real browser: a clinic's
// staff member signs in, starts this year's sheet, answers the opening item,
// attaches a PDF as evidence, and downloads the report, whose text (read
// back with pdftotext) holds the item and the answer.
func TestBrowserAssessSheet(t *testing.T) {
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		dbtest.SkipOrFail(t, "pdf", "pdftotext not installed (poppler-utils)")
	}
	clock := testkit.NowClock()
	_, base, ctx, jimu := browserPerson(t, clock, auth.OrgInput{Kind: auth.KindClinic, Name: "点検内科クリニック"}, "jimu@tenken.example.jp", "事務", auth.RoleStaff)
	now := clock.Now()
	dir := t.TempDir()
	file := testkit.WriteFile(t, dir, "体制図.pdf", evidencePDF)
	today := assess.Today(now)

	testkit.Do(t, ctx, "sign in, start the sheet and answer",
		testkit.SignInSteps(base, jimu.User.Email, jimu.Password),
		chromedp.Navigate(base+"/assess"),
		chromedp.WaitVisible(chromedp.CSS(`#edition`)),
		chromedp.SetValue(chromedp.CSS(`#edition`), "mhlw-r7-institution"),
		chromedp.Submit(chromedp.CSS(`#edition`)),
		chromedp.WaitVisible(chromedp.CSS(`#sheet-progress`)),
		chromedp.Click(chromedp.CSS(`#item-has_system a`)),
		chromedp.WaitVisible(chromedp.CSS(`#answer-form`)),
		chromedp.Click(chromedp.CSS(`input[name="answer1."][value="yes"]`)),
		chromedp.SetValue(chromedp.CSS(`#date1-`), today),
		chromedp.SendKeys(chromedp.CSS(`#comment-`), "電子カルテとレセコンを運用"),
		chromedp.Click(chromedp.CSS(`#save-answer`)),
		chromedp.WaitVisible(chromedp.CSS(`#sheet-progress`)),
	)
	row := testkit.Text(t, ctx, `#item-has_system`)
	if !strings.Contains(row, "はい") {
		t.Fatalf("the sheet does not show the answer: %q", row)
	}

	testkit.Do(t, ctx, "attach evidence",
		chromedp.Click(chromedp.CSS(`#item-has_system a`)),
		chromedp.WaitVisible(chromedp.CSS(`#evidence-form`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{file}),
		chromedp.SendKeys(chromedp.CSS(`#note`), "システム構成図"),
		chromedp.Click(chromedp.CSS(`#add-evidence`)),
		chromedp.WaitVisible(chromedp.CSS(`#evidence li a`)),
	)
	ev := testkit.Text(t, ctx, `#evidence ul`)
	if !strings.Contains(ev, "体制図.pdf") || !strings.Contains(ev, "システム構成図") {
		t.Fatalf("evidence list: %q", ev)
	}
	got := testkit.Download(t, ctx, `document.querySelector('#evidence li a').href`)
	if string(got) != string(evidencePDF) {
		t.Fatalf("evidence download differs: %q", got)
	}

	testkit.Do(t, ctx, "back to the sheet",
		chromedp.Click(chromedp.CSS(`.breadcrumb a[href^="/assess/sheets/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#download-pdf`)),
	)
	pdf := testkit.Download(t, ctx, `document.querySelector('#download-pdf').href`)
	if !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Fatalf("download is not a PDF: %q", pdf[:min(len(pdf), 20)])
	}
	in := testkit.WriteFile(t, dir, "report.pdf", pdf)
	out, err := exec.Command(tool, "-raw", "-enc", "UTF-8", in, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(out)), "")
	testkit.ContainsAll(t, "report text", text, "医療情報システムを導入、運用している。", "はい", "点検内科クリニック", "体制図.pdf", strings.ReplaceAll(today, "-", "/"))
}
