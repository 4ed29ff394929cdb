package app

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// TestBrowserShareAnonymousIncident drives an anonymous incident report in
// a real browser: a clinic's staff member writes a patient's name into the
// report, is stopped by the warning step, edits it out and posts; another
// member reads the report without the reporter's name and answers
// "affected"; an ISAC operator sees who reported it and the answer.
func TestBrowserShareAnonymousIncident(t *testing.T) {
	clock := newTestClock()
	n, base, ctx := browserNode(t, clock)
	const clinicName, reporterName = "さくら整形外科クリニック", "さくら 受付"
	seedStaff(t, n.DB, clock.Now(),
		staffOf{auth.KindISAC, "医療ISAC事務局", "ops@isac.example.jp", "事務局 担当"},
		staffOf{auth.KindClinic, clinicName, "uketsuke@sakura.example.jp", reporterName},
		staffOf{auth.KindHospital, "あおば病院", "it@aoba.example.jp", "あおば 情報"},
	)
	signIn := func(email string) chromedp.Action[chromedp.Void] {
		return testkit.SignInSteps(base, email, seed.Password)
	}
	signOut := testkit.SignOut()
	const title = "受付端末でランサムウェアの脅迫文を確認"

	// The clinic writes the report with a patient's name in it and is
	// stopped before anything is posted.
	if err := chromedp.Do(ctx,
		signIn("uketsuke@sakura.example.jp"),
		chromedp.Navigate(base+"/share/new"),
		chromedp.WaitVisible(chromedp.CSS(`#title`)),
		chromedp.Click(chromedp.CSS(`input[name="kind"][value="incident"]`)),
		chromedp.Click(chromedp.CSS(`input[name="tlp"][value="green"]`)),
		chromedp.Click(chromedp.CSS(`input[name="anonymous"]`)),
		chromedp.SendKeys(chromedp.CSS(`#title`), title),
		chromedp.SendKeys(chromedp.CSS(`#body`), "朝、受付端末に脅迫文が表示されました。山田花子様の予約票が開いたままでした。"),
		chromedp.Submit(chromedp.CSS(`#title`)),
		chromedp.WaitVisible(chromedp.CSS(`#pii`)),
	); err != nil {
		t.Fatalf("clinic writes the report: %v", err)
	}
	warning := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`#pii`)))
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
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#body`), "朝、受付端末に脅迫文が表示されました。患者さんの予約票が開いたままでした。"),
		chromedp.Submit(chromedp.CSS(`#title`)),
		chromedp.WaitVisible(chromedp.CSS(`#post-h`)),
	); err != nil {
		t.Fatalf("clinic posts the edited report: %v", err)
	}
	postURL := testkit.Run(t, ctx, chromedp.Location())
	if !strings.Contains(postURL, "/share/posts/") {
		t.Fatalf("after posting: %s", postURL)
	}
	postPath := postURL[strings.Index(postURL, "/share/posts/"):]
	if body := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`article`))); strings.Contains(body, "山田花子") {
		t.Fatal("the patient's name was posted")
	}

	// Another member reads it without the reporter's name and answers.
	if err := chromedp.Do(ctx,
		signOut,
		signIn("it@aoba.example.jp"),
		chromedp.Navigate(base+"/share"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="`+postPath+`"]`)),
	); err != nil {
		t.Fatalf("member opens the list: %v", err)
	}
	if list := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`main`))); strings.Contains(list, clinicName) || strings.Contains(list, reporterName) {
		t.Fatalf("the list names the reporter: %q", list)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="`+postPath+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-response="affected"]`)),
	); err != nil {
		t.Fatalf("member opens the report: %v", err)
	}
	if page := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`main`))); strings.Contains(page, clinicName) || strings.Contains(page, reporterName) {
		t.Fatalf("the report names the reporter to another member: %q", page)
	}
	if meta := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`.share-post__meta`))); !strings.Contains(meta, "匿名の報告者") {
		t.Fatalf("meta line: %q", meta)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[data-response="affected"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-response="affected"][aria-pressed="true"]`)),
	); err != nil {
		t.Fatalf("member answers: %v", err)
	}

	// The ISAC operator sees the reporter and the answer.
	if err := chromedp.Do(ctx,
		signOut,
		signIn("ops@isac.example.jp"),
		chromedp.Navigate(base+postPath),
		chromedp.WaitVisible(chromedp.CSS(`#rates`)),
	); err != nil {
		t.Fatalf("operator opens the report: %v", err)
	}
	if meta := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`.share-post__meta`))); !strings.Contains(meta, clinicName) || !strings.Contains(meta, "匿名の報告") {
		t.Fatalf("operator's meta line: %q", meta)
	}
	if got := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`dd[data-rate="affected"]`))); got != "1" {
		t.Fatalf("affected answers seen by the operator: %q", got)
	}
}
