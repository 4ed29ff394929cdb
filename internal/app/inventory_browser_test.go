package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"github.com/medisac/medisac/internal/testkit"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/xlsx"
)

// TestBrowserInventoryImport drives the register in a real browser: a
// clinic's staff member signs in, downloads the template, fills two rows,
// uploads it, sees the preview, applies it, sees the devices in the list
// and opens the network overview.
func TestBrowserInventoryImport(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock()
	n, base := startNode(t, filepath.Join(dir, "medisac.db"), dir, clock)
	ctx := testkit.Browser(t)

	bg := context.Background()
	now := clock.Now()
	err := n.DB.InTx(bg, func(tx *db.Tx) error {
		o, err := auth.CreateOrg(bg, tx, auth.OrgInput{Kind: auth.KindClinic, Name: "台帳内科クリニック"}, now)
		if err != nil {
			return err
		}
		u, err := auth.CreateUser(bg, tx, auth.NewUser{Email: "jimu@daicho.example.jp", DisplayName: "事務", Password: "Kx7#mQ2v-river"}, now)
		if err != nil {
			return err
		}
		return auth.AddMember(bg, tx, o.ID, u.ID, auth.RoleStaff, now)
	})
	if err != nil {
		t.Fatal(err)
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "jimu@daicho.example.jp"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "Kx7#mQ2v-river"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`.org-badge`)),
		chromedp.Navigate(base+"/inventory/import"),
		chromedp.WaitVisible(chromedp.CSS(`#import-file`)),
	); err != nil {
		t.Fatalf("sign in and open the import page: %v", err)
	}

	// Download the template as the page links it.
	b64 := testkit.Run(t, ctx, chromedp.Evaluate[string](`fetch(document.querySelector('#template-xlsx').href)
		.then(r => r.arrayBuffer())
		.then(b => { let s = ''; new Uint8Array(b).forEach(x => s += String.fromCharCode(x)); return btoa(s); })`, chromedp.EvalAwaitPromise))
	tmpl, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
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
	file := filepath.Join(dir, "台帳.xlsx")
	if err := os.WriteFile(file, filled.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS(`#import-file`), []string{file}),
		chromedp.Submit(chromedp.CSS(`#import-file`)),
		chromedp.WaitVisible(chromedp.CSS(`#import-counts`)),
	); err != nil {
		t.Fatalf("upload: %v", err)
	}
	newRows := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`#import-counts .count-new`)))
	if strings.TrimSpace(newRows) != "2" {
		t.Fatalf("preview shows %q new rows, want 2", newRows)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#apply`)),
		chromedp.WaitVisible(chromedp.CSS(`#asset-list`)),
	); err != nil {
		t.Fatalf("apply: %v", err)
	}
	list := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`#asset-list`)))
	for _, want := range []string{"受付PC", "超音波診断装置", "医療機器", "192.168.1.10"} {
		if !strings.Contains(list, want) {
			t.Errorf("asset list lacks %q: %s", want, list)
		}
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/inventory/overview"),
		chromedp.WaitVisible(chromedp.CSS(`#overview`)),
	); err != nil {
		t.Fatalf("overview: %v", err)
	}
	width := testkit.Run(t, ctx, chromedp.Poll[int](`document.querySelector('#overview').complete && document.querySelector('#overview').naturalWidth`))
	if width < 500 {
		t.Fatalf("overview image width %d: the SVG did not load", width)
	}
}
