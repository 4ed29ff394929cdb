package app

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/xlsx"
)

// TestBrowserInventoryImport drives the register in a real browser: a
// clinic's staff member signs in, downloads the template, fills two rows,
// uploads it, sees the preview, applies it, sees the devices in the list
// and opens the network overview.
func TestBrowserInventoryImport(t *testing.T) {
	_, base, ctx, jimu := browserPerson(t, testkit.NowClock(), auth.OrgInput{Kind: auth.KindClinic, Name: "台帳内科クリニック"}, "jimu@daicho.example.jp", "事務", auth.RoleStaff)
	testkit.Do(t, ctx, "sign in and open the import page",
		testkit.SignInSteps(base, jimu.User.Email, jimu.Password),
		chromedp.Navigate(base+"/inventory/import"),
		chromedp.WaitVisible(chromedp.CSS(`#import-file`)),
	)

	// Download the template as the page links it.
	tmpl := testkit.Download(t, ctx, `document.querySelector('#template-xlsx').href`)
	sheets, err := xlsx.Read(tmpl, xlsx.DefaultLimits)
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	var header []string
	for _, c := range sheets[0].Rows[0] {
		header = append(header, c.V)
	}
	fill := func(vals map[string]string) []string {
		row := make([]string, len(header))
		for i, h := range header {
			row[i] = vals[h]
		}
		return row
	}
	var filled bytes.Buffer
	if err := xlsx.Write(&filled, []xlsx.SheetData{{Name: sheets[0].Name, Header: header, Rows: [][]string{
		fill(map[string]string{"名称": "受付PC", "種別": "PC", "IPアドレス": "192.168.1.10", "セグメント": "事務系", "保守期限": "R10.3.31"}),
		fill(map[string]string{"名称": "超音波診断装置", "種別": "医療機器", "セグメント": "医療系", "リモート保守": "あり", "初期パスワード変更": "不明"}),
	}}}); err != nil {
		t.Fatal(err)
	}
	file := testkit.WriteFile(t, t.TempDir(), "台帳.xlsx", filled.Bytes())

	testkit.Do(t, ctx, "upload",
		chromedp.SetUploadFiles(chromedp.CSS(`#import-file`), []string{file}),
		chromedp.Submit(chromedp.CSS(`#import-file`)),
		chromedp.WaitVisible(chromedp.CSS(`#import-counts`)),
	)
	newRows := testkit.Text(t, ctx, `#import-counts .count-new`)
	if strings.TrimSpace(newRows) != "2" {
		t.Fatalf("preview shows %q new rows, want 2", newRows)
	}
	testkit.Do(t, ctx, "apply",
		chromedp.Click(chromedp.CSS(`#apply`)),
		chromedp.WaitVisible(chromedp.CSS(`#asset-list`)),
	)
	testkit.ContainsAll(t, "asset list", testkit.Text(t, ctx, `#asset-list`), "受付PC", "超音波診断装置", "医療機器", "192.168.1.10")

	testkit.Do(t, ctx, "overview",
		chromedp.Navigate(base+"/inventory/overview"),
		chromedp.WaitVisible(chromedp.CSS(`#overview`)),
	)
	width := testkit.Run(t, ctx, chromedp.Poll[int](`document.querySelector('#overview').complete && document.querySelector('#overview').naturalWidth`))
	if width < 500 {
		t.Fatalf("overview image width %d: the SVG did not load", width)
	}
}
