package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/db"
)

// hostileNext are "next" values that must never be followed: each either
// leaves the site in some browser or hides something that could.
var hostileNext = []string{
	"", "evil.example", "http://evil.example", "https://evil.example/", "HTTPS://evil.example", "javascript:alert(1)",
	"data:text/html,x", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example",
	"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\r\n/evil.example", "\t//evil.example", " /evil",
	"/ /evil.example", "/\x00/evil.example", "/\x0b/evil.example", "/\x0c/evil.example", "/\x7f/evil.example",
	"/%09/evil.example", "/%0a/evil.example", "/%0A/evil.example", "/%0d/evil.example", "/%5c/evil.example",
	"/%5Cevil.example", "/%2f/evil.example", "/%2F%2Fevil.example", "/%00", "/%20/evil.example", "/%7f",
	"/%e3%80%80/evil.example", "/%zz", "/a\\b", "/a%5cb", "/a\tb", "/a b",
	"/\u3000/evil.example", "/\u00a0/evil.example", "/\u2028/evil.example", "/\u200b/evil.example", "/\u202e/evil.example",
	"/\ufeff/evil.example", "/\uff0f/evil.example", "/\u2215evil.example", "/\uff3cevil.example", "/日本語",
	"/\xff/evil.example", "/" + strings.Repeat("a", 2001),
}

func TestSafeNextRefusesHostileForms(t *testing.T) {
	for _, s := range hostileNext {
		if got := safeNext(s); got != "/" {
			t.Errorf("safeNext(%q) = %q, want /", s, got)
		}
	}
	for _, s := range []string{"/", "/account", "/account/tokens", "/inventory?q=%E7%97%85%E9%99%A2&page=2", "/vuln/CVE-2026-0001#top",
		"/admin/orgs/0190/invites", "/audit?from=2026-04-01&to=2026-04-30", "/a/b/c/", "/a?x=http://evil.example"} {
		if got := safeNext(s); got != s {
			t.Errorf("safeNext(%q) = %q, want it unchanged", s, got)
		}
	}
}

// TestSignInNextStaysOnSite signs in with every hostile "next" and checks
// the Location the browser gets, on both databases; the form page carries
// the value back only as "/" too.
func TestSignInNextStaysOnSite(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		// Already signed in: GET /signin?next=… redirects at once.
		c := e.signedIn(e.staff, e.hosp)
		for _, s := range hostileNext {
			req, err := http.NewRequest(http.MethodGet, e.ts.URL+"/signin?next="+url.QueryEscape(s), nil)
			if err != nil {
				t.Fatal(err)
			}
			r := c.do(req)
			wantStatus(t, r, http.StatusSeeOther)
			if r.loc() != "/" {
				t.Fatalf("GET /signin?next=%q redirects to %q", s, r.loc())
			}
		}
		// The raw form of the reported attack, not escaped by the client.
		req, err := http.NewRequest(http.MethodGet, e.ts.URL+"/signin?next=/%09/evil.example", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := c.do(req); r.loc() != "/" {
			t.Fatalf("next=/%%09/evil.example redirects to %q", r.loc())
		}
		// Signing in with a hostile next (POST) lands on "/" too.
		for _, s := range []string{"/\t/evil.example", "/%5c/evil.example", "//evil.example", "/\\evil.example"} {
			a := e.client()
			a.get("/signin")
			r := a.post("/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}, "next": {s}})
			wantStatus(t, r, http.StatusSeeOther)
			if r.loc() != "/" {
				t.Fatalf("sign-in with next=%q redirects to %q", s, r.loc())
			}
		}
		a := e.client()
		a.get("/signin")
		r := a.post("/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}, "next": {"/account"}})
		if r.loc() != "/account" {
			t.Fatalf("a local next is lost: %q", r.loc())
		}
	})
}
