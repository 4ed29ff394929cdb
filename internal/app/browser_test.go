package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/testkit"
)

// TestBrowserSignInWithTOTP drives the main path in a real browser: an admin
// signs in, must enrol TOTP, gets recovery codes, signs out, and signs in
// again with a TOTP code.
func TestBrowserSignInWithTOTP(t *testing.T) {
	clock := testkit.NowClock()
	_, base, ctx, director := browserPerson(t, clock, auth.OrgInput{Kind: auth.KindClinic, Name: "ブラウザ内科"}, "director@browser.example.jp", "院長", auth.RoleAdmin)

	signIn := chromedp.Steps(
		testkit.SignInForm(base, director.User.Email, director.Password),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	)
	testkit.Do(t, ctx, "sign-in to enrolment", signIn)
	loc := testkit.Run(t, ctx, chromedp.Location())
	secret := testkit.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('code.secret').textContent`))
	if !strings.Contains(loc, "/mfa/setup") {
		t.Fatalf("an admin without MFA was not sent to enrolment: %s", loc)
	}
	secret = strings.TrimSpace(secret)
	if secret == "" {
		t.Fatal("no TOTP secret on the enrolment page")
	}
	testkit.Do(t, ctx, "TOTP enrolment",
		testkit.SubmitCode(testkit.TOTP(secret, clock.Now()), `.recovery-codes`),
	)
	codes := testkit.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('.recovery-codes li').length`))
	if codes != 10 {
		t.Fatalf("recovery codes shown: %d, want 10", codes)
	}
	testkit.Do(t, ctx, "continue to home",
		chromedp.Click(chromedp.CSS(`.actions a.btn--primary`)),
		chromedp.WaitVisible(chromedp.CSS(`.org-badge`)),
	)
	home := testkit.Text(t, ctx, `.org-badge`)
	if !strings.Contains(home, "ブラウザ内科") {
		t.Fatalf("home page does not name the organisation: %q", home)
	}

	// Sign out, then sign in again with a code from the next time step (the
	// enrolment code cannot be replayed).
	testkit.Do(t, ctx, "sign out", testkit.SignOut())
	clock.Advance(31 * time.Second)
	testkit.Do(t, ctx, "second sign-in", signIn)
	loc = testkit.Run(t, ctx, chromedp.Location())
	if !strings.Contains(loc, "/mfa") || strings.Contains(loc, "/mfa/setup") {
		t.Fatalf("second sign-in did not ask for the code: %s", loc)
	}
	testkit.Do(t, ctx, "TOTP challenge",
		testkit.SubmitCode(testkit.TOTP(secret, clock.Now()), `.org-badge`),
	)
	loc = testkit.Run(t, ctx, chromedp.Location())
	home = testkit.Text(t, ctx, `.org-badge`)
	if strings.Contains(loc, "/mfa") || !strings.Contains(home, "ブラウザ内科") {
		t.Fatalf("not signed in after the TOTP challenge: %s %q", loc, home)
	}
}

// TestBrowserSignInNextStaysOnSite signs in in Chromium with "next" values
// that browsers read as another host (a tab or a backslash after the first
// slash); Chromium must end on medisac's home page, never on the other
// server.
func TestBrowserSignInNextStaysOnSite(t *testing.T) {
	_, base, ctx, desk := browserPerson(t, nil, auth.OrgInput{Kind: auth.KindClinic, Name: "転送テスト医院"}, "desk@redirect.example.jp", "受付", auth.RoleStaff)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<!doctype html><title>evil</title><p id=evil>evil</p>"))
	}))
	defer evil.Close()
	evilHost := strings.TrimPrefix(evil.URL, "http://")
	for i, next := range []string{"/%09/" + evilHost + "/", "/%5C" + evilHost + "/", "/%0A/" + evilHost + "/"} {
		steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/signin?next=" + next)}
		if i == 0 {
			steps = append(steps,
				chromedp.WaitVisible(chromedp.CSS(`#email`)),
				chromedp.SendKeys(chromedp.CSS(`#email`), desk.User.Email),
				chromedp.SendKeys(chromedp.CSS(`#password`), desk.Password),
				chromedp.Submit(chromedp.CSS(`#password`)),
			)
		}
		// Signed in already after the first round: GET /signin redirects at
		// once. Wait for either medisac's home or the other server's page.
		steps = append(steps, chromedp.WaitVisible(chromedp.CSS(`.org-badge, #evil`)))
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := chromedp.Do(sctx, steps...)
		cancel()
		if err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("next=%s: medisac's home page did not appear: %v (Chromium is at %q)", next, err, loc)
		}
		loc := testkit.Run(t, ctx, chromedp.Location())
		if loc != base+"/" {
			t.Fatalf("next=%s: Chromium is at %s, want %s/", next, loc, base)
		}
	}
}
