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
	"github.com/medisac/medisac/internal/testkit/seed"
)

// TestBrowserSignInNextStaysOnSite signs in in Chromium with "next" values
// that browsers read as another host (a tab or a backslash after the first
// slash); Chromium must end on medisac's home page, never on the other
// server.
func TestBrowserSignInNextStaysOnSite(t *testing.T) {
	n, base, ctx := browserNode(t, nil)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<!doctype html><title>evil</title><p id=evil>evil</p>"))
	}))
	defer evil.Close()
	evilHost := strings.TrimPrefix(evil.URL, "http://")
	desk := seed.OrgWithMember(t, n.DB, auth.OrgInput{Kind: auth.KindClinic, Name: "転送テスト医院"}, "desk@redirect.example.jp", "受付", auth.RoleStaff, n.now())
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
