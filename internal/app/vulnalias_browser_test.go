package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
	"github.com/medisac/medisac/internal/vuln"
)

// TestBrowserVulnAliases has an ISAC operator add a vendor spelling
// (「ふぉーちねっと」 for fortinet) on the alias table page; the table, the
// history and the watch of the node use it at once.
func TestBrowserVulnAliases(t *testing.T) {
	clock := newTestClock()
	n, base, ctx := browserNode(t, clock)
	bg := context.Background()
	op := seed.OrgWithMember(t, n.DB, auth.OrgInput{Kind: auth.KindISAC, Name: "医療ISAC事務局", Prefecture: "東京都"}, "ops@isac.example.jp", "事務局 担当", auth.RoleAdmin, clock.Now())
	userID, email := op.User.ID, op.User.Email
	enr, err := n.MFA.BeginTOTP(bg, userID, email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.MFA.ConfirmTOTP(bg, userID, enr.ChallengeID, testkit.TOTP(enr.Secret, clock.Now())); err != nil {
		t.Fatal(err)
	}
	clock.Advance(31 * time.Second)

	if err := chromedp.Do(ctx,
		testkit.SignInForm(base, email, op.Password),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
		chromedp.SendKeys(chromedp.CSS(`#code`), testkit.TOTP(enr.Secret, clock.Now())),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`.org-badge`)),
		chromedp.Navigate(base+"/vuln"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/vuln/aliases"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/vuln/aliases"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#vulnalias-add-vendor`)),
	); err != nil {
		t.Fatalf("sign in and open the alias table: %v", err)
	}
	lead := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`#vulnalias-lead`)))
	if !strings.Contains(lead, "ヤマハ") || !strings.Contains(lead, "RTX830") {
		t.Errorf("lead does not explain the table: %q", lead)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#spelling`), "ふぉーちねっと"),
		chromedp.SendKeys(chromedp.CSS(`#cpe`), "fortinet"),
		chromedp.SendKeys(chromedp.CSS(`#vendor-note`), "院内の台帳の書き方"),
		chromedp.Submit(chromedp.CSS(`#spelling`)),
		chromedp.WaitVisible(chromedp.CSS(`#vulnalias-history`)),
	); err != nil {
		t.Fatalf("add a vendor spelling: %v", err)
	}
	row := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`#vulnalias-vendors tr[data-cpe="fortinet"]`)))
	if !strings.Contains(row, "ふぉーちねっと") || !strings.Contains(row, "フォーティネット") {
		t.Errorf("fortinet row: %q", row)
	}
	flash := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`.alert--ok`)))
	if !strings.Contains(flash, "照合をやり直しています") {
		t.Errorf("flash: %q", flash)
	}
	hist := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`#vulnalias-history tbody tr:first-child`)))
	for _, want := range []string{"画面で編集", email, "院内の台帳の書き方", "使用中"} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q: %q", want, hist)
		}
	}
	w := &vuln.Watch{DB: n.DB, Now: clock.Now}
	if err := w.ReloadAliases(bg); err != nil {
		t.Fatal(err)
	}
	if got := w.Aliases.Identify("ふぉーちねっと", "FortiSwitch", "", "7.2.2", ""); len(got) == 0 || !strings.Contains(got[0].CPE, "fortinet:fortiswitch") {
		t.Errorf("the node's watch does not use the new spelling: %+v", got)
	}
}
