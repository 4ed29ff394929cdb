package app

import (
	"context"
	"github.com/medisac/medisac/internal/testkit"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// TestBrowserSignInNextStaysOnSite signs in in Chromium with "next" values
// that browsers read as another host (a tab or a backslash after the first
// slash); Chromium must end on medisac's home page, never on the other
// server.
func TestBrowserSignInNextStaysOnSite(t *testing.T) {
	dir := t.TempDir()
	n, base := startNode(t, filepath.Join(dir, "medisac.db"), dir, nil)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<!doctype html><title>evil</title><p id=evil>evil</p>"))
	}))
	defer evil.Close()
	evilHost := strings.TrimPrefix(evil.URL, "http://")
	ctx := testkit.Browser(t)

	bg := context.Background()
	err := n.DB.InTx(bg, func(tx *db.Tx) error {
		o, err := auth.CreateOrg(bg, tx, auth.OrgInput{Kind: auth.KindClinic, Name: "転送テスト医院"}, n.now())
		if err != nil {
			return err
		}
		u, err := auth.CreateUser(bg, tx, auth.NewUser{Email: "desk@redirect.example.jp", DisplayName: "受付", Password: "Tensou-Test-2026!"}, n.now())
		if err != nil {
			return err
		}
		return auth.AddMember(bg, tx, o.ID, u.ID, auth.RoleStaff, n.now())
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, next := range []string{"/%09/" + evilHost + "/", "/%5C" + evilHost + "/", "/%0A/" + evilHost + "/"} {
		steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/signin?next=" + next)}
		if i == 0 {
			steps = append(steps,
				chromedp.WaitVisible(chromedp.CSS(`#email`)),
				chromedp.SendKeys(chromedp.CSS(`#email`), "desk@redirect.example.jp"),
				chromedp.SendKeys(chromedp.CSS(`#password`), "Tensou-Test-2026!"),
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
