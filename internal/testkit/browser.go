package testkit

import (
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/db/dbtest"
)

// Chromium returns the browser binary: MEDISAC_CHROMIUM, else the first of
// the usual names on PATH, else "".
func Chromium() string {
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

// Browser starts a headless Chromium (Japanese, 1280×900) for the test and
// returns its context, which ends after 90 s. Without a browser the test is
// skipped, or fails when MEDISAC_TEST_REQUIRE names "browser". On failure
// the current page is saved as testdata/screenshots/<test>.png.
func Browser(t *testing.T) context.Context {
	t.Helper()
	exe := Chromium()
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
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if png, err := chromedp.Run(sctx, chromedp.FullScreenshot(90)); err == nil {
				dir := filepath.Join("testdata", "screenshots")
				_ = os.MkdirAll(dir, 0o755)
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

// Run runs a in the browser and returns its value; the test fails on error.
func Run[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// SignIn signs email in with password on the sign-in page of base and
// waits for the signed-in page (the organisation badge). People whose
// organisation asks for a second factor are not signed in by it.
func SignIn(t testing.TB, ctx context.Context, base, email, password string) {
	t.Helper()
	if err := chromedp.Do(ctx, SignInSteps(base, email, password)); err != nil {
		t.Fatalf("sign in as %s: %v", email, err)
	}
}

// SignInForm fills and sends the sign-in form of base; it waits for nothing
// after (the next page may ask for a second factor).
func SignInForm(base, email, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
	)
}

// SignInSteps are the steps of SignIn, for a longer chromedp.Do.
func SignInSteps(base, email, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		SignInForm(base, email, password),
		chromedp.WaitVisible(chromedp.CSS(`.org-badge`)),
	)
}

// SignOut presses the sign-out button and waits for the sign-in form.
func SignOut() chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
}

// Do runs steps in the browser; the test fails naming what they do when one
// fails.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Text is the text of the first element that matches the CSS selector sel.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	return Run(t, ctx, chromedp.Text(chromedp.CSS(sel)))
}

// WaitText waits up to within for the text of sel to contain want and
// returns the last text read. A read that fails because the page is
// navigating (a form's redirect destroys the page being read) is tried
// again instead of failing the test.
func WaitText(t testing.TB, ctx context.Context, sel, want string, within time.Duration) string {
	t.Helper()
	var text string
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		v, err := chromedp.Run(rctx, chromedp.Text(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			if text = v; strings.Contains(text, want) {
				break
			}
		}
	}
	return text
}

// Download fetches, in the page, the address the JavaScript expression href
// gives (a link's href) and returns the body; the test fails unless the
// answer is a success.
func Download(t testing.TB, ctx context.Context, href string) []byte {
	t.Helper()
	b64 := Run(t, ctx, chromedp.Evaluate[string](`fetch(`+href+`)
		.then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status))
		.then(b => { let s = ''; new Uint8Array(b).forEach(x => s += String.fromCharCode(x)); return btoa(s); })`, chromedp.EvalAwaitPromise))
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SubmitCode types code into the second sign-in step's form, sends it and
// waits for the element sel of the next page.
func SubmitCode(code, sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SendKeys(chromedp.CSS(`#code`), code),
		chromedp.Submit(chromedp.CSS(`#code`)),
		chromedp.WaitVisible(chromedp.CSS(sel)),
	)
}
