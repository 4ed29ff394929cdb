package app

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// shareBrowser starts a node with an ISAC operator's staff member, the
// given clinic's and a hospital's (it@aoba.example.jp), and a browser; it
// returns the node's address, the browser and the steps that sign a person
// in.
func shareBrowser(t *testing.T, clinic staffOf) (string, context.Context, func(email string) chromedp.Action[chromedp.Void]) {
	t.Helper()
	clock := testkit.NowClock()
	n, base, ctx := browserNode(t, clock)
	seedStaff(t, n.DB, clock.Now(),
		staffOf{auth.KindISAC, "医療ISAC事務局", "ops@isac.example.jp", "事務局 担当"},
		clinic,
		staffOf{auth.KindHospital, "あおば病院", "it@aoba.example.jp", "あおば 情報"},
	)
	return base, ctx, func(email string) chromedp.Action[chromedp.Void] {
		return testkit.SignInSteps(base, email, seed.Password)
	}
}

// writePost opens the new post form of base, fills in a TLP:GREEN post of
// kind with title and body, takes the further steps more and sends it.
func writePost(base, kind, title, body string, more ...chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(base + "/share/new"),
		chromedp.WaitVisible(chromedp.CSS(`#title`)),
		chromedp.Click(chromedp.CSS(`input[name="kind"][value="` + kind + `"]`)),
		chromedp.Click(chromedp.CSS(`input[name="tlp"][value="green"]`)),
		chromedp.SendKeys(chromedp.CSS(`#title`), title),
		chromedp.SendKeys(chromedp.CSS(`#body`), body),
	}
	return chromedp.Steps(append(append(steps, more...), chromedp.Submit(chromedp.CSS(`#title`)))...)
}

// postPath is the path of the post the browser shows.
func postPath(t *testing.T, ctx context.Context) string {
	t.Helper()
	postURL := testkit.Run(t, ctx, chromedp.Location())
	if !strings.Contains(postURL, "/share/posts/") {
		t.Fatalf("after posting: %s", postURL)
	}
	return postURL[strings.Index(postURL, "/share/posts/"):]
}

// TestBrowserShareAdvisory drives the hub in a real browser: an ISAC
// operator posts a TLP:GREEN advisory, a clinic's staff member finds it in
// the list, reads what the label allows and answers "investigating", and
// the operator sees the response rate change.
func TestBrowserShareAdvisory(t *testing.T) {
	base, ctx, signIn := shareBrowser(t, staffOf{auth.KindClinic, "みどり内科クリニック", "jimu@midori.example.jp", "みどり 事務"})
	signOut := testkit.SignOut()
	const title = "VPN装置の脆弱性（CVE-2024-21762）への緊急対応のお願い"

	// The operator posts the advisory.
	testkit.Do(t, ctx, "operator posts",
		signIn("ops@isac.example.jp"),
		writePost(base, "advisory", title, "リモート保守に使うVPN装置を、最新のファームウェアに更新してください。",
			chromedp.SendKeys(chromedp.CSS(`#cves`), "CVE-2024-21762")),
		chromedp.WaitVisible(chromedp.CSS(`#rates`)),
	)
	postPath := postPath(t, ctx)
	if got := testkit.Text(t, ctx, `dd[data-rate="investigating"]`); got != "0" {
		t.Fatalf("investigating before any answer: %q", got)
	}
	before := testkit.Text(t, ctx, `#rates .share-rate`)

	// A clinic's staff member finds it, sees what TLP:GREEN allows, and
	// answers "investigating".
	testkit.Do(t, ctx, "member opens the advisory",
		signOut,
		signIn("jimu@midori.example.jp"),
		chromedp.Navigate(base+"/share"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="`+postPath+`"]`)),
		chromedp.Click(chromedp.CSS(`a[href="`+postPath+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-response="investigating"]`)),
	)
	label := testkit.Text(t, ctx, `.tlp-box`)
	if !strings.Contains(label, "TLP:GREEN") || !strings.Contains(label, "医療ISACの会員組織の中で共有できます") {
		t.Fatalf("label box: %q", label)
	}
	if got := testkit.Text(t, ctx, `h1`); got != title {
		t.Fatalf("title %q", got)
	}
	testkit.Do(t, ctx, "member answers",
		chromedp.Click(chromedp.CSS(`button[data-response="investigating"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-response="investigating"][aria-pressed="true"]`)),
	)
	if n := testkit.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#rates').length`)); n != 0 {
		t.Fatal("a member sees the response rate")
	}

	// The operator sees the answer counted.
	testkit.Do(t, ctx, "operator reopens the advisory",
		signOut,
		signIn("ops@isac.example.jp"),
		chromedp.Navigate(base+postPath),
		chromedp.WaitVisible(chromedp.CSS(`#rates`)),
	)
	if got := testkit.Text(t, ctx, `dd[data-rate="investigating"]`); got != "1" {
		t.Fatalf("investigating after the answer: %q", got)
	}
	after := testkit.Text(t, ctx, `#rates .share-rate`)
	if after == before || !strings.Contains(after, "50%") {
		t.Fatalf("response rate before %q, after %q", before, after)
	}
	testkit.Do(t, ctx, "operator overview",
		chromedp.Navigate(base+"/share/ops"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-post]`)),
	)
	row := testkit.Text(t, ctx, `tr[data-post]`)
	if !strings.Contains(row, title) || !strings.Contains(row, "50%") {
		t.Fatalf("overview row: %q", row)
	}
}

// TestBrowserShareAnonymousIncident drives an anonymous incident report in
// a real browser: a clinic's staff member writes a patient's name into the
// report, is stopped by the warning step, edits it out and posts; another
// member reads the report without the reporter's name and answers
// "affected"; an ISAC operator sees who reported it and the answer.
func TestBrowserShareAnonymousIncident(t *testing.T) {
	const clinicName, reporterName = "さくら整形外科クリニック", "さくら 受付"
	base, ctx, signIn := shareBrowser(t, staffOf{auth.KindClinic, clinicName, "uketsuke@sakura.example.jp", reporterName})
	signOut := testkit.SignOut()
	const title = "受付端末でランサムウェアの脅迫文を確認"

	// The clinic writes the report with a patient's name in it and is
	// stopped before anything is posted.
	testkit.Do(t, ctx, "clinic writes the report",
		signIn("uketsuke@sakura.example.jp"),
		writePost(base, "incident", title, "朝、受付端末に脅迫文が表示されました。山田花子様の予約票が開いたままでした。",
			chromedp.Click(chromedp.CSS(`input[name="anonymous"]`))),
		chromedp.WaitVisible(chromedp.CSS(`#pii`)),
	)
	warning := testkit.Text(t, ctx, `#pii`)
	if !strings.Contains(warning, "山田花子様") {
		t.Fatalf("warning step does not show the name: %q", warning)
	}
	if loc := testkit.Run(t, ctx, chromedp.Location()); strings.Contains(loc, "/share/posts/") {
		t.Fatalf("posted despite the warning: %s", loc)
	}
	// The form kept what was typed; the clinic edits the name out.
	if got := testkit.Run(t, ctx, chromedp.Evaluate[bool](`document.querySelector('input[name="anonymous"]').checked`)); !got {
		t.Fatal("the anonymous choice was lost on the warning step")
	}
	testkit.Do(t, ctx, "clinic posts the edited report",
		chromedp.SetValue(chromedp.CSS(`#body`), "朝、受付端末に脅迫文が表示されました。患者さんの予約票が開いたままでした。"),
		chromedp.Submit(chromedp.CSS(`#title`)),
		chromedp.WaitVisible(chromedp.CSS(`#post-h`)),
	)
	postPath := postPath(t, ctx)
	if body := testkit.Text(t, ctx, `article`); strings.Contains(body, "山田花子") {
		t.Fatal("the patient's name was posted")
	}

	// Another member reads it without the reporter's name and answers.
	testkit.Do(t, ctx, "member opens the list",
		signOut,
		signIn("it@aoba.example.jp"),
		chromedp.Navigate(base+"/share"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="`+postPath+`"]`)),
	)
	if list := testkit.Text(t, ctx, `main`); strings.Contains(list, clinicName) || strings.Contains(list, reporterName) {
		t.Fatalf("the list names the reporter: %q", list)
	}
	testkit.Do(t, ctx, "member opens the report",
		chromedp.Click(chromedp.CSS(`a[href="`+postPath+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-response="affected"]`)),
	)
	if page := testkit.Text(t, ctx, `main`); strings.Contains(page, clinicName) || strings.Contains(page, reporterName) {
		t.Fatalf("the report names the reporter to another member: %q", page)
	}
	if meta := testkit.Text(t, ctx, `.share-post__meta`); !strings.Contains(meta, "匿名の報告者") {
		t.Fatalf("meta line: %q", meta)
	}
	testkit.Do(t, ctx, "member answers",
		chromedp.Click(chromedp.CSS(`button[data-response="affected"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-response="affected"][aria-pressed="true"]`)),
	)

	// The ISAC operator sees the reporter and the answer.
	testkit.Do(t, ctx, "operator opens the report",
		signOut,
		signIn("ops@isac.example.jp"),
		chromedp.Navigate(base+postPath),
		chromedp.WaitVisible(chromedp.CSS(`#rates`)),
	)
	if meta := testkit.Text(t, ctx, `.share-post__meta`); !strings.Contains(meta, clinicName) || !strings.Contains(meta, "匿名の報告") {
		t.Fatalf("operator's meta line: %q", meta)
	}
	if got := testkit.Text(t, ctx, `dd[data-rate="affected"]`); got != "1" {
		t.Fatalf("affected answers seen by the operator: %q", got)
	}
}
