package app

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// findChromium returns the path of a Chromium (or Chrome) binary, or "".
func findChromium() string {
	if p := os.Getenv("MEDISAC_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser starts a headless Chromium for the test. On failure the current
// page is saved as testdata/screenshots/<test>.png.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := findChromium()
	if exe == "" {
		dbtest.SkipOrFail(t, "browser", "no chromium binary found (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "ja"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	if err := chromedp.Do(ctx); err != nil {
		cancelT()
		cancelC()
		cancelA()
		dbtest.SkipOrFail(t, "browser", "chromium did not start: "+err.Error())
	}
	t.Cleanup(func() {
		if t.Failed() {
			var png []byte
			var err error
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if png, err = chromedp.Run(sctx, chromedp.FullScreenshot(90)); err == nil {
				dir := filepath.Join("testdata", "screenshots")
				os.MkdirAll(dir, 0o755)
				name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".png")
				if err := os.WriteFile(name, png, 0o644); err == nil {
					abs, _ := filepath.Abs(name)
					t.Logf("screenshot kept: %s", abs)
				}
			}
			cancel()
		}
		cancelT()
		cancelC()
		cancelA()
	})
	return ctx
}

// TestBrowserSignInWithTOTP drives the main path in a real browser: an admin
// signs in, must enrol TOTP, gets recovery codes, signs out, and signs in
// again with a TOTP code.
func TestBrowserSignInWithTOTP(t *testing.T) {
	dir := t.TempDir()
	clock := newTestClock()
	n, base := startNode(t, filepath.Join(dir, "medisac.db"), dir, clock)
	ctx := browser(t)

	bg := context.Background()
	now := clock.Now()
	err := n.DB.InTx(bg, func(tx *db.Tx) error {
		o, err := auth.CreateOrg(bg, tx, auth.OrgInput{Kind: auth.KindClinic, Name: "ブラウザ内科"}, now)
		if err != nil {
			return err
		}
		u, err := auth.CreateUser(bg, tx, auth.NewUser{Email: "director@browser.example.jp", DisplayName: "院長", Password: "Shinryou-2026-Pw!"}, now)
		if err != nil {
			return err
		}
		return auth.AddMember(bg, tx, o.ID, u.ID, auth.RoleAdmin, now)
	})
	if err != nil {
		t.Fatal(err)
	}

	signIn := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(base + "/signin"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "director@browser.example.jp"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "Shinryou-2026-Pw!"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
	}
	if err := chromedp.Do(ctx, signIn...); err != nil {
		t.Fatalf("sign-in to enrolment: %v", err)
	}
	loc := mustRun(t, ctx, chromedp.Location())
	secret := mustRun(t, ctx, chromedp.Evaluate[string](`document.querySelector('code.secret').textContent`))
	if !strings.Contains(loc, "/mfa/setup") {
		t.Fatalf("an admin without MFA was not sent to enrolment: %s", loc)
	}
	secret = strings.TrimSpace(secret)
	if secret == "" {
		t.Fatal("no TOTP secret on the enrolment page")
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#code`), totpCode(secret, clock.Now())),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`.recovery-codes`)),
	); err != nil {
		t.Fatalf("TOTP enrolment: %v", err)
	}
	codes := mustRun(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('.recovery-codes li').length`))
	if codes != 10 {
		t.Fatalf("recovery codes shown: %d, want 10", codes)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.actions a.btn--primary`)),
		chromedp.WaitVisible(chromedp.CSS(`.org-badge`)),
	); err != nil {
		t.Fatalf("continue to home: %v", err)
	}
	home := mustRun(t, ctx, chromedp.Text(chromedp.CSS(`.org-badge`)))
	if !strings.Contains(home, "ブラウザ内科") {
		t.Fatalf("home page does not name the organisation: %q", home)
	}

	// Sign out, then sign in again with a code from the next time step (the
	// enrolment code cannot be replayed).
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	clock.Advance(31 * time.Second)
	if err := chromedp.Do(ctx, signIn...); err != nil {
		t.Fatalf("second sign-in: %v", err)
	}
	loc = mustRun(t, ctx, chromedp.Location())
	if !strings.Contains(loc, "/mfa") || strings.Contains(loc, "/mfa/setup") {
		t.Fatalf("second sign-in did not ask for the code: %s", loc)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#code`), totpCode(secret, clock.Now())),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(`.org-badge`)),
	); err != nil {
		t.Fatalf("TOTP challenge: %v", err)
	}
	loc = mustRun(t, ctx, chromedp.Location())
	home = mustRun(t, ctx, chromedp.Text(chromedp.CSS(`.org-badge`)))
	if strings.Contains(loc, "/mfa") || !strings.Contains(home, "ブラウザ内科") {
		t.Fatalf("not signed in after the TOTP challenge: %s %q", loc, home)
	}
}

func mustRun[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
