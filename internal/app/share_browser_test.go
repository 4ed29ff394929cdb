package app

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// TestBrowserShareAdvisory drives the hub in a real browser: an ISAC
// operator posts a TLP:GREEN advisory, a clinic's staff member finds it in
// the list, reads what the label allows and answers "investigating", and
// the operator sees the response rate change.
func TestBrowserShareAdvisory(t *testing.T) {
	clock := newTestClock()
	n, base, ctx := browserNode(t, clock)
	seedStaff(t, n.DB, clock.Now(),
		staffOf{auth.KindISAC, "医療ISAC事務局", "ops@isac.example.jp", "事務局 担当"},
		staffOf{auth.KindClinic, "みどり内科クリニック", "jimu@midori.example.jp", "みどり 事務"},
		staffOf{auth.KindHospital, "あおば病院", "it@aoba.example.jp", "あおば 情報"},
	)
	signIn := func(email string) chromedp.Action[chromedp.Void] {
		return testkit.SignInSteps(base, email, seed.Password)
	}
	signOut := testkit.SignOut()
	const title = "VPN装置の脆弱性（CVE-2024-21762）への緊急対応のお願い"

	// The operator posts the advisory.
	if err := chromedp.Do(ctx,
		signIn("ops@isac.example.jp"),
		chromedp.Navigate(base+"/share/new"),
		chromedp.WaitVisible(chromedp.CSS(`#title`)),
		chromedp.Click(chromedp.CSS(`input[name="kind"][value="advisory"]`)),
		chromedp.Click(chromedp.CSS(`input[name="tlp"][value="green"]`)),
		chromedp.SendKeys(chromedp.CSS(`#title`), title),
		chromedp.SendKeys(chromedp.CSS(`#body`), "リモート保守に使うVPN装置を、最新のファームウェアに更新してください。"),
		chromedp.SendKeys(chromedp.CSS(`#cves`), "CVE-2024-21762"),
		chromedp.Submit(chromedp.CSS(`#title`)),
		chromedp.WaitVisible(chromedp.CSS(`#rates`)),
	); err != nil {
		t.Fatalf("operator posts: %v", err)
	}
	postURL := testkit.Run(t, ctx, chromedp.Location())
	if !strings.Contains(postURL, "/share/posts/") {
		t.Fatalf("after posting: %s", postURL)
	}
	postPath := postURL[strings.Index(postURL, "/share/posts/"):]
	if got := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`dd[data-rate="investigating"]`))); got != "0" {
		t.Fatalf("investigating before any answer: %q", got)
	}
	before := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`#rates .share-rate`)))

	// A clinic's staff member finds it, sees what TLP:GREEN allows, and
	// answers "investigating".
	if err := chromedp.Do(ctx,
		signOut,
		signIn("jimu@midori.example.jp"),
		chromedp.Navigate(base+"/share"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="`+postPath+`"]`)),
		chromedp.Click(chromedp.CSS(`a[href="`+postPath+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-response="investigating"]`)),
	); err != nil {
		t.Fatalf("member opens the advisory: %v", err)
	}
	label := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`.tlp-box`)))
	if !strings.Contains(label, "TLP:GREEN") || !strings.Contains(label, "医療ISACの会員組織の中で共有できます") {
		t.Fatalf("label box: %q", label)
	}
	if got := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`h1`))); got != title {
		t.Fatalf("title %q", got)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[data-response="investigating"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-response="investigating"][aria-pressed="true"]`)),
	); err != nil {
		t.Fatalf("member answers: %v", err)
	}
	if n := testkit.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#rates').length`)); n != 0 {
		t.Fatal("a member sees the response rate")
	}

	// The operator sees the answer counted.
	if err := chromedp.Do(ctx,
		signOut,
		signIn("ops@isac.example.jp"),
		chromedp.Navigate(base+postPath),
		chromedp.WaitVisible(chromedp.CSS(`#rates`)),
	); err != nil {
		t.Fatalf("operator reopens the advisory: %v", err)
	}
	if got := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`dd[data-rate="investigating"]`))); got != "1" {
		t.Fatalf("investigating after the answer: %q", got)
	}
	after := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`#rates .share-rate`)))
	if after == before || !strings.Contains(after, "50%") {
		t.Fatalf("response rate before %q, after %q", before, after)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/share/ops"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-post]`)),
	); err != nil {
		t.Fatalf("operator overview: %v", err)
	}
	row := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`tr[data-post]`)))
	if !strings.Contains(row, title) || !strings.Contains(row, "50%") {
		t.Fatalf("overview row: %q", row)
	}
}
