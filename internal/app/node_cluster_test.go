package app

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// TestTwoNodesOneService runs two nodes on one PostgreSQL database: a person
// signs in on one and acts on the other; a lockout earned on one holds on the
// other for browsers new to the account, while the person's own browser
// (device cookie) still signs in; signing out on one ends the session on
// both.
func TestTwoNodesOneService(t *testing.T) {
	dbURL := dbtest.PostgresURL(t)
	dataDir := t.TempDir()
	clock := testkit.NowClock()
	n1, url1 := startNode(t, dbURL, dataDir, clock)
	_, url2 := startNode(t, dbURL, dataDir, clock)

	ctx := context.Background()
	seed.MemberAs(t, n1.DB, seed.Org(t, n1.DB, auth.OrgInput{Kind: auth.KindClinic, Name: "二拠点テスト診療所"}, clock.Now()),
		auth.NewUser{Email: "staff@two.example.jp", DisplayName: "受付", Password: "Kakuninn-2026-Pw!"}, auth.RoleStaff, clock.Now())

	c := newClient(t)
	token := c.csrfFrom(url1 + "/signin")
	code, _, h := c.post(url1+"/signin", url.Values{"csrf": {token}, "email": {"staff@two.example.jp"}, "password": {"Kakuninn-2026-Pw!"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Fatalf("sign-in on node 1: status %d location %q", code, h.Get("Location"))
	}
	code, body, _ := c.get(url2 + "/account")
	if code != http.StatusOK || !strings.Contains(body, "staff@two.example.jp") {
		t.Fatalf("node 2 does not know the session: status %d", code)
	}
	// A change made on node 2 with the session's CSRF token.
	token = c.csrfFrom(url2 + "/account")
	code, _, _ = c.post(url2+"/account/profile", url.Values{"csrf": {token}, "display_name": {"受付 花子"}, "lang": {"en"}})
	if code != http.StatusSeeOther {
		t.Fatalf("profile change on node 2: status %d", code)
	}
	u, err := auth.GetUserByEmail(ctx, n1.DB, "staff@two.example.jp")
	if err != nil || u.DisplayName != "受付 花子" || u.Lang != "en" {
		t.Fatalf("change not stored: %+v %v", u, err)
	}
	// Sign out on node 1 ends the session on node 2.
	token = c.csrfFrom(url1 + "/account")
	c.post(url1+"/signout", url.Values{"csrf": {token}})
	if code, _, h := c.get(url2 + "/account"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/signin") {
		t.Fatalf("after sign-out on node 1, node 2 answered %d %q", code, h.Get("Location"))
	}

	// Failed sign-ins spread over both nodes lock the account on both.
	attacker := newClient(t)
	for i := 0; i < auth.AccountThrottle.Free+1; i++ {
		base := url1
		if i%2 == 1 {
			base = url2
		}
		tok := attacker.csrfFrom(base + "/signin")
		attacker.post(base+"/signin", url.Values{"csrf": {tok}, "email": {"staff@two.example.jp"}, "password": {"wrong-password-1!"}})
	}
	// A browser that never signed in to the account is locked out on node 2 ...
	fresh := newClient(t)
	tok := fresh.csrfFrom(url2 + "/signin")
	code, _, _ = fresh.post(url2+"/signin", url.Values{"csrf": {tok}, "email": {"staff@two.example.jp"}, "password": {"Kakuninn-2026-Pw!"}})
	if code != http.StatusTooManyRequests {
		t.Fatalf("locked account signed in on node 2 from a new browser: status %d", code)
	}
	// ... the person's own browser, with the device cookie node 1 issued,
	// is not: both nodes check it with the installation's shared key.
	tok = c.csrfFrom(url2 + "/signin")
	code, _, h = c.post(url2+"/signin", url.Values{"csrf": {tok}, "email": {"staff@two.example.jp"}, "password": {"Kakuninn-2026-Pw!"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/" {
		t.Fatalf("own browser on node 2 during the lock: status %d %q", code, h.Get("Location"))
	}
	_ = body
}

// TestReadyzWhenSchemaBehind: /readyz fails while a migration is pending.
func TestReadyzWhenSchemaBehind(t *testing.T) {
	dir := t.TempDir()
	n, base := startNode(t, filepath.Join(dir, "medisac.db"), dir, nil)
	c := newClient(t)
	if code, _, _ := c.get(base + "/readyz"); code != http.StatusOK {
		t.Fatalf("readyz on a current schema: %d", code)
	}
	if _, err := n.DB.Exec(context.Background(), `DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := c.get(base + "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "migrat") {
		t.Fatalf("readyz with a pending migration: %d %q", code, body)
	}
	if code, _, _ := c.get(base + "/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	code, body, _ := c.get(base + "/metrics")
	if code != http.StatusOK || !strings.Contains(body, "medisac_http_requests_total") || !strings.Contains(body, "medisac_jobs{") || !strings.Contains(body, `medisac_last_seen_pending{kind="session"} `) {
		t.Fatalf("metrics: %d %q", code, body)
	}
}
