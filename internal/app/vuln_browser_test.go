package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/vuln"
)

// TestBrowserVulnDashboard drives the findings dashboard in a real
// browser: a clinic registers its FortiGate at the main entrance (the SSL-VPN
// gateway, maintained by a vendor), the KEV catalogue and NVD's record of
// CVE-2022-42475 are imported and matched by the node's background job, and
// the clinic's staff member sees the finding at the top in plain words,
// opens it and records that work has started.
func TestBrowserVulnDashboard(t *testing.T) {
	clock := testkit.NowClock()
	n, base, ctx, it := browserPerson(t, clock, auth.OrgInput{Kind: auth.KindClinic, Name: "脆弱性内科クリニック", Prefecture: "東京都"}, "it@zeijaku.example.jp", "情報担当", auth.RoleStaff)
	bg := context.Background()
	now := clock.Now()
	orgID := it.Org.ID
	var fwID string
	err := n.DB.InTx(bg, func(tx *db.Tx) error {
		if _, err := inventory.CreateVendor(bg, tx, orgID, inventory.Vendor{Name: "まるまる保守", Phone: "03-0000-1111"}, now); err != nil {
			return err
		}
		fw, err := inventory.CreateAsset(bg, tx, orgID, it.User.ID, inventory.Asset{Name: "正面玄関FortiGate", Kind: inventory.KindNetwork, Vendor: "フォーティネット",
			Product: "FortiGate", Model: "FG-60F", Version: "v7.2.2,build1255", Location: "正面玄関", Maintainer: "まるまる保守"}, now)
		if err != nil {
			return err
		}
		fwID = fw.ID
		_, err = inventory.CreateConnection(bg, tx, orgID, inventory.Connection{Name: "SSL-VPN", Type: inventory.ConnSSLVPN, AssetID: fw.ID}, now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &vuln.Watch{DB: n.DB, Queue: n.Queue, Now: clock.Now}
	for _, f := range []string{"kev/kev_trimmed.json", "nvd/CVE-2022-42475.json"} {
		if _, err := w.ImportFile(bg, filepath.Join("..", "vuln", "testdata", f)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		fs, err := vuln.ListFindings(bg, n.DB, orgID, vuln.FindingFilter{VulnID: "CVE-2022-42475"})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background job did not match the imported CVE")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// 150 more, less urgent findings on the same device: the list spans two
	// pages of 100.
	err = n.DB.InTx(bg, func(tx *db.Tx) error {
		for i := range 150 {
			if _, err := tx.Exec(bg, `INSERT INTO vuln_findings (id, org_id, asset_id, vuln_id, confidence, priority, rank, first_seen, changed_at)
				VALUES (?, ?, ?, ?, 'product', 4, ?, ?, ?)`, db.NewID(), orgID, fwID, fmt.Sprintf("CVE-2099-%05d", i), i%10, now, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	testkit.Do(t, ctx, "sign in and open the dashboard",
		testkit.SignInSteps(base, it.User.Email, it.Password),
		chromedp.Navigate(base+"/vuln"),
		chromedp.WaitVisible(chromedp.CSS(`#vuln-findings`)),
	)
	first := testkit.Text(t, ctx, `#vuln-findings tbody tr:first-child`)
	testkit.ContainsAll(t, "first finding", first, "今すぐ対応", "正面玄関FortiGate", "正面玄関", "CVE-2022-42475", "悪用", "7.2.3", "まるまる保守", "外部との接続口")
	open, err := vuln.ListFindings(bg, n.DB, orgID, vuln.FindingFilter{})
	if err != nil || len(open) <= 150 || len(open) > 200 {
		t.Fatalf("%d open findings: %v", len(open), err)
	}
	if r := testkit.Text(t, ctx, `#vuln-range`); r != fmt.Sprintf("全 %d 件中 1〜100 件", len(open)) {
		t.Errorf("range on page 1: %q", r)
	}
	testkit.Do(t, ctx, "次へ",
		chromedp.Click(chromedp.CSS(`#vuln-next`)),
		chromedp.WaitVisible(chromedp.CSS(`#vuln-prev`)),
	)
	if r := testkit.Text(t, ctx, `#vuln-range`); r != fmt.Sprintf("全 %d 件中 101〜%d 件", len(open), len(open)) {
		t.Errorf("range on page 2: %q", r)
	}
	if rows := testkit.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#vuln-findings tbody tr").length`)); rows != len(open)-100 {
		t.Errorf("page 2 has %d rows", rows)
	}
	testkit.Do(t, ctx, "前へ",
		chromedp.Click(chromedp.CSS(`#vuln-prev`)),
		chromedp.WaitVisible(chromedp.CSS(`#vuln-next`)),
	)
	if again := testkit.Text(t, ctx, `#vuln-findings tbody tr:first-child`); again != first {
		t.Errorf("前へ shows another first row: %s", again)
	}
	now1 := testkit.Text(t, ctx, `#vuln-summary-counts dd[data-priority="1"]`)
	if strings.TrimSpace(now1) == "0" {
		t.Errorf("summary shows no 今すぐ対応 finding")
	}
	testkit.Do(t, ctx, "open the finding",
		chromedp.Click(chromedp.CSS(`#vuln-findings tbody tr:first-child a[href^="/vuln/findings/"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#vuln-plain`)),
	)
	testkit.ContainsAll(t, "plain explanation", testkit.Text(t, ctx, `#vuln-plain`), "正面玄関FortiGate", "7.2.3", "まるまる保守", "03-0000-1111")
	testkit.Do(t, ctx, "record the state",
		chromedp.SetValue(chromedp.CSS(`#state`), "in_progress"),
		chromedp.SendKeys(chromedp.CSS(`#reason`), "保守業者に更新を依頼済み"),
		chromedp.Submit(chromedp.CSS(`#reason`)),
		chromedp.WaitVisible(chromedp.CSS(`#vuln-state`)),
	)
	// The finding page shows the state before the form is sent too: wait
	// for the page after the redirect.
	st := testkit.WaitText(t, ctx, `#vuln-state`, "対応中", 10*time.Second)
	if !strings.Contains(st, "対応中") || !strings.Contains(st, "保守業者に更新を依頼済み") {
		t.Errorf("state shows %q", st)
	}
}

// TestBrowserVulnAliases has an ISAC operator add a vendor spelling
// (「ふぉーちねっと」 for fortinet) on the alias table page; the table, the
// history and the watch of the node use it at once.
func TestBrowserVulnAliases(t *testing.T) {
	clock := testkit.NowClock()
	n, base, ctx, op := browserPerson(t, clock, auth.OrgInput{Kind: auth.KindISAC, Name: "医療ISAC事務局", Prefecture: "東京都"}, "ops@isac.example.jp", "事務局 担当", auth.RoleAdmin)
	bg := context.Background()
	userID, email := op.User.ID, op.User.Email
	enr, err := n.MFA.BeginTOTP(bg, userID, email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.MFA.ConfirmTOTP(bg, userID, enr.ChallengeID, testkit.TOTP(enr.Secret, clock.Now())); err != nil {
		t.Fatal(err)
	}
	clock.Advance(31 * time.Second)

	testkit.Do(t, ctx, "sign in and open the alias table",
		testkit.SignInForm(base, email, op.Password),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
		testkit.SubmitCode(testkit.TOTP(enr.Secret, clock.Now()), `.org-badge`),
		chromedp.Navigate(base+"/vuln"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/vuln/aliases"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/vuln/aliases"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#vulnalias-add-vendor`)),
	)
	lead := testkit.Text(t, ctx, `#vulnalias-lead`)
	if !strings.Contains(lead, "ヤマハ") || !strings.Contains(lead, "RTX830") {
		t.Errorf("lead does not explain the table: %q", lead)
	}
	testkit.Do(t, ctx, "add a vendor spelling",
		chromedp.SendKeys(chromedp.CSS(`#spelling`), "ふぉーちねっと"),
		chromedp.SendKeys(chromedp.CSS(`#cpe`), "fortinet"),
		chromedp.SendKeys(chromedp.CSS(`#vendor-note`), "院内の台帳の書き方"),
		chromedp.Submit(chromedp.CSS(`#spelling`)),
		chromedp.WaitVisible(chromedp.CSS(`#vulnalias-history`)),
	)
	row := testkit.Text(t, ctx, `#vulnalias-vendors tr[data-cpe="fortinet"]`)
	if !strings.Contains(row, "ふぉーちねっと") || !strings.Contains(row, "フォーティネット") {
		t.Errorf("fortinet row: %q", row)
	}
	flash := testkit.Text(t, ctx, `.alert--ok`)
	if !strings.Contains(flash, "照合をやり直しています") {
		t.Errorf("flash: %q", flash)
	}
	testkit.ContainsAll(t, "history", testkit.Text(t, ctx, `#vulnalias-history tbody tr:first-child`), "画面で編集", email, "院内の台帳の書き方", "使用中")
	w := &vuln.Watch{DB: n.DB, Now: clock.Now}
	if err := w.ReloadAliases(bg); err != nil {
		t.Fatal(err)
	}
	if got := w.Aliases.Identify("ふぉーちねっと", "FortiSwitch", "", "7.2.2", ""); len(got) == 0 || !strings.Contains(got[0].CPE, "fortinet:fortiswitch") {
		t.Errorf("the node's watch does not use the new spelling: %+v", got)
	}
}
