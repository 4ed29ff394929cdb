package app

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// TestBrowserSignInWithTOTP drives the main path in a real browser: an admin
// signs in, must enrol TOTP, gets recovery codes, signs out, and signs in
// again with a TOTP code.
func TestBrowserSignInWithTOTP(t *testing.T) {
	clock := newTestClock()
	n, base, ctx := browserNode(t, clock)
	director := seed.OrgWithMember(t, n.DB, auth.OrgInput{Kind: auth.KindClinic, Name: "ブラウザ内科"}, "director@browser.example.jp", "院長", auth.RoleAdmin, clock.Now())

	signIn := chromedp.Steps(
		testkit.SignInForm(base, director.User.Email, director.Password),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	)
	if err := chromedp.Do(ctx, signIn); err != nil {
		t.Fatalf("sign-in to enrolment: %v", err)
	}
	loc := testkit.Run(t, ctx, chromedp.Location())
	secret := testkit.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('code.secret').textContent`))
	if !strings.Contains(loc, "/mfa/setup") {
		t.Fatalf("an admin without MFA was not sent to enrolment: %s", loc)
	}
	secret = strings.TrimSpace(secret)
	if secret == "" {
		t.Fatal("no TOTP secret on the enrolment page")
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#code`), testkit.TOTP(secret, clock.Now())),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`.recovery-codes`)),
	); err != nil {
		t.Fatalf("TOTP enrolment: %v", err)
	}
	codes := testkit.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('.recovery-codes li').length`))
	if codes != 10 {
		t.Fatalf("recovery codes shown: %d, want 10", codes)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.actions a.btn--primary`)),
		chromedp.WaitVisible(chromedp.CSS(`.org-badge`)),
	); err != nil {
		t.Fatalf("continue to home: %v", err)
	}
	home := testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`.org-badge`)))
	if !strings.Contains(home, "ブラウザ内科") {
		t.Fatalf("home page does not name the organisation: %q", home)
	}

	// Sign out, then sign in again with a code from the next time step (the
	// enrolment code cannot be replayed).
	if err := chromedp.Do(ctx, testkit.SignOut()); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	clock.Advance(31 * time.Second)
	if err := chromedp.Do(ctx, signIn); err != nil {
		t.Fatalf("second sign-in: %v", err)
	}
	loc = testkit.Run(t, ctx, chromedp.Location())
	if !strings.Contains(loc, "/mfa") || strings.Contains(loc, "/mfa/setup") {
		t.Fatalf("second sign-in did not ask for the code: %s", loc)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#code`), testkit.TOTP(secret, clock.Now())),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`.org-badge`)),
	); err != nil {
		t.Fatalf("TOTP challenge: %v", err)
	}
	loc = testkit.Run(t, ctx, chromedp.Location())
	home = testkit.Run(t, ctx, chromedp.Text(chromedp.CSS(`.org-badge`)))
	if strings.Contains(loc, "/mfa") || !strings.Contains(home, "ブラウザ内科") {
		t.Fatalf("not signed in after the TOTP challenge: %s %q", loc, home)
	}
}
