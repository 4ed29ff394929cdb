package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/mfa"
	"github.com/medisac/medisac/internal/testkit"
)

var (
	inlineScript = regexp.MustCompile(`(?i)<script(\s[^>]*)?>`)
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=`)
	eventAttr    = regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	rawKey       = regexp.MustCompile(`\b(account|org|home|invite|reset|admin|outbox|layout|common|nav|flash|mfa_page|error_page|totp|recovery|signin|link_error|mfa_setup|lang)\.[a-z_]+(\.[a-z_]+)*\b`)
)

// checkPage fails on anything the Content-Security-Policy or the catalogs
// forbid in a rendered page.
func checkPage(t *testing.T, name string, r resp) {
	t.Helper()
	if got := r.header.Get("Content-Security-Policy"); got != contentSecPolicy || !strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe-inline") {
		t.Errorf("%s: CSP %q", name, got)
	}
	for _, m := range inlineScript.FindAllString(r.body, -1) {
		if !strings.Contains(m, ` src="/static/`) {
			t.Errorf("%s: inline script %q", name, m)
		}
	}
	if styleAttr.MatchString(r.body) {
		t.Errorf("%s: style attribute", name)
	}
	if m := eventAttr.FindString(r.body); m != "" {
		t.Errorf("%s: inline event handler %q", name, m)
	}
	if strings.Contains(r.body, "%!") || strings.Contains(r.body, "ZgotmplZ") {
		t.Errorf("%s: formatting or escaping fault in page", name)
	}
	if m := rawKey.FindString(stripTags(r.body)); m != "" {
		t.Errorf("%s: untranslated key %q", name, m)
	}
	if !strings.Contains(r.body, `<main id="main"`) {
		t.Errorf("%s: no main landmark", name)
	}
}

var tags = regexp.MustCompile(`(?s)<[^>]*>`)

func stripTags(s string) string { return tags.ReplaceAllString(s, " ") }

// pageUser is a person a page walk signs in as, named for the statuses it
// expects.
type pageUser struct {
	name string
	u    *auth.User
	org  *auth.Org
}

// pageWant is a page of a walk and the statuses it answers other than 200,
// by person.
type pageWant struct {
	path string
	want map[string]int
}

// walkPages gets every page as every person in every language, requires
// the status the page wants for the person and a well-formed page
// (checkPage), and hands each page that answered as wanted to more, with a
// label naming language, person and path.
func walkPages(t *testing.T, e *env, d *db.DB, users []pageUser, pages []pageWant, more func(label, lang string, r resp)) {
	t.Helper()
	for _, lang := range i18n.Languages {
		for _, u := range users {
			if err := auth.UpdateProfile(bg, d, u.u.ID, u.u.DisplayName, lang, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			c := e.signedIn(u.u, u.org)
			for _, pg := range pages {
				want := http.StatusOK
				if s, ok := pg.want[u.name]; ok {
					want = s
				}
				label := lang + " " + u.name + " " + pg.path
				r := c.get(pg.path)
				if r.status != want {
					t.Errorf("%s: status %d, want %d", label, r.status, want)
					continue
				}
				checkPage(t, label, r)
				more(label, lang, r)
			}
		}
	}
}

func TestEveryPageRenders(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		admin := e.signedIn(e.admin, e.hosp)
		// Some content for the lists: an invitation, a token, a mail.
		wantStatus(t, admin.post("/org/invites", url.Values{"email": {"new@kitamachi-hp.jp"}, "role": {"staff"}}), http.StatusSeeOther)
		wantStatus(t, admin.post("/account/tokens", url.Values{"name": {"取り込み"}, "expires_at": {"2026-06-30"}, "scope": {"write"}}), http.StatusOK)
		inviteLink := e.linkIn(e.mails(e.hosp.ID)[0].Body, "invite")

		users := []pageUser{
			{"admin", e.admin, e.hosp}, {"staff", e.staff, e.hosp}, {"auditor", e.auditor, e.hosp}, {"operator", e.oper, e.isac},
		}
		pages := []pageWant{
			{"/", nil},
			{"/account", nil},
			{"/account/totp", nil},
			{"/org", nil},
			{"/audit", map[string]int{"staff": 403}},
			{"/audit?action=auth&from=2026-01-01&to=2026-12-31", map[string]int{"staff": 403}},
			{"/audit?from=yesterday", map[string]int{"staff": 403, "admin": 400, "auditor": 400, "operator": 400}},
			{"/admin/orgs", map[string]int{"admin": 404, "staff": 404, "auditor": 404}},
			{"/admin/orgs/" + e.hosp.ID, map[string]int{"admin": 404, "staff": 404, "auditor": 404}},
			{"/admin/jobs", map[string]int{"admin": 404, "staff": 404, "auditor": 404}},
			{"/outbox", nil},
			{inviteLink, nil},
		}
		walkPages(t, e, d, users, pages, func(label, lang string, r resp) {
			if !strings.Contains(r.body, `<html lang="`+lang+`">`) {
				t.Errorf("%s: wrong language", label)
			}
		})

		anon := e.client()
		for _, p := range []string{"/signin", "/reset", inviteLink, "/reset/unknown-token", "/invite/unknown-token"} {
			r := anon.get(p)
			if r.status != http.StatusOK && r.status != http.StatusNotFound {
				t.Errorf("anonymous %s: status %d", p, r.status)
			}
			checkPage(t, "anonymous "+p, r)
		}
		if r := anon.get("/account"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.loc(), "/signin?next=") {
			t.Errorf("anonymous /account: %d %q", r.status, r.loc())
		}
	})
}

func TestSignInWithTOTPEnrolmentAndRecoveryPages(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.client()
		checkPage(t, "signin", c.get("/signin"))
		r := c.post("/signin", url.Values{"email": {e.admin.Email}, "password": {goodPassword}})
		wantStatus(t, r, http.StatusSeeOther)
		if !strings.HasPrefix(r.loc(), "/mfa/setup") {
			t.Fatalf("admin without MFA sent to %q, want /mfa/setup", r.loc())
		}
		if r := c.get("/"); r.status != http.StatusSeeOther || r.loc() != "/mfa" {
			t.Fatalf("half-signed-in home: %d %q", r.status, r.loc())
		}
		r = c.get(r.loc())
		wantStatus(t, r, http.StatusOK)
		checkPage(t, "mfa_setup", r)
		if !strings.Contains(r.body, `src="data:image/png;base64,`) {
			t.Fatal("no QR image")
		}
		secret := regexp.MustCompile(`<code class="secret" translate="no">([A-Z2-7]+)</code>`).FindStringSubmatch(r.body)
		challenge := regexp.MustCompile(`name="challenge" value="([^"]+)"`).FindStringSubmatch(r.body)
		if secret == nil || challenge == nil {
			t.Fatal("no secret or challenge in the enrolment page")
		}
		r = c.post("/mfa/setup", url.Values{"challenge": {challenge[1]}, "code": {"000000"}, "next": {"/"}})
		if r.status < 400 {
			t.Fatalf("wrong code accepted: %d", r.status)
		}
		checkPage(t, "mfa_setup error", r)
		challenge = regexp.MustCompile(`name="challenge" value="([^"]+)"`).FindStringSubmatch(r.body)
		secret = regexp.MustCompile(`<code class="secret" translate="no">([A-Z2-7]+)</code>`).FindStringSubmatch(r.body)
		r = c.post("/mfa/setup", url.Values{"challenge": {challenge[1]}, "code": {testkit.TOTP(secret[1], e.clock.Now())}, "next": {"/"}})
		wantStatus(t, r, http.StatusOK)
		checkPage(t, "recovery", r)
		wantContains(t, r, text("recovery.once"))
		if n := strings.Count(r.body, "<li><code>"); n != 10 {
			t.Fatalf("%d recovery codes shown, want 10", n)
		}
		wantStatus(t, c.get("/"), http.StatusOK)

		wantStatus(t, c.post("/signout", nil), http.StatusSeeOther)
		c.get("/signin")
		r = c.post("/signin", url.Values{"email": {e.admin.Email}, "password": {goodPassword}, "next": {"/org"}})
		wantStatus(t, r, http.StatusSeeOther)
		r = c.get(r.loc())
		wantStatus(t, r, http.StatusOK)
		checkPage(t, "mfa", r)
		r = c.post("/mfa", url.Values{"method": {"totp"}, "code": {testkit.TOTP(secret[1], e.clock.Now())}, "next": {"/org"}})
		if r.status != http.StatusTooManyRequests && r.status != http.StatusBadRequest && r.status != http.StatusUnauthorized {
			t.Fatalf("replayed code: status %d", r.status)
		}
		checkPage(t, "mfa error", r)
		e.clock.Advance(30e9)
		r = c.post("/mfa", url.Values{"method": {"totp"}, "code": {testkit.TOTP(secret[1], e.clock.Now())}, "next": {"/org"}})
		wantStatus(t, r, http.StatusSeeOther)
		if r.loc() != "/org" {
			t.Fatalf("after MFA went to %q", r.loc())
		}
		wantStatus(t, c.get("/org"), http.StatusOK)
	})
}

// TestTemplateKeysExist reads every {{.T "key"}} of the templates and the
// key families built with printf, and requires them in both languages.
func TestTemplateKeysExist(t *testing.T) {
	files, err := filepath.Glob("templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("templates: %v", err)
	}
	keyRe := regexp.MustCompile(`\.T "([^"]+)"`)
	keys := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRe.FindAllSubmatch(b, -1) {
			keys[string(m[1])] = true
		}
	}
	for _, r := range auth.Roles {
		keys["auth.role."+string(r)] = true
		keys["auth.role."+string(r)+".help"] = true
	}
	for _, k := range auth.OrgKinds {
		keys["auth.kind."+string(k)] = true
	}
	for _, l := range i18n.Languages {
		keys["lang.name."+l] = true
	}
	for _, p := range []auth.MFAPolicy{auth.MFAAdmins, auth.MFAEveryone} {
		keys["auth.mfa_policy."+string(p)] = true
	}
	for _, k := range []string{"signin.title", "mfa.title", "totp.title", "recovery.title", "error.title", "signin.no_org",
		"flash.signed_out", "flash.signed_out_everywhere", "nav.home", "nav.orgs", "nav.org", "nav.audit", "nav.jobs", "nav.outbox", "nav.account"} {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	testkit.CatalogHasAll(t, catalog, 100, sorted)
}

// TestWebCatalogsMatch keeps the two languages of this area's catalog in
// step.
func TestWebCatalogsMatch(t *testing.T) {
	for _, k := range catalog.Keys("ja") {
		if strings.Contains(k, ".") && !catalog.Has("en", k) {
			t.Errorf("key %q has no English text", k)
		}
	}
}

func TestPasskeyScriptServed(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t))
	req := httptest.NewRequest("GET", "/static/passkey.js", nil)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != string(mfa.PasskeyJS) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET /static/passkey.js: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
