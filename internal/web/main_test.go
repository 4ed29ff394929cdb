package web

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/jobs"
	"github.com/medisac/medisac/internal/mfa"
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

func TestMain(m *testing.M) {
	auth.DefaultArgon2 = auth.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	os.Exit(dbtest.Main(m))
}

const goodPassword = "Kx7#mQ2v-river"

// assessRegistry is the checklist editions of the tests' servers.
var assessRegistry = sync.OnceValue(assess.MustRegistry)

var (
	bg      = context.Background()
	catalog = i18n.MustLoad()
)

// clock is the test's controllable time.

// env is a running web server on real dependencies with a small world: a
// hospital (admin, staff, auditor), a clinic (admin) and an ISAC operator.
type env struct {
	t      testing.TB
	d      *db.DB
	clock  *testkit.Clock
	srv    *Server
	ts     *httptest.Server
	mailer *notify.Mailer
	audit  *audit.Log

	hosp, clinic, isac                 *auth.Org
	admin, staff, auditor, other, oper *auth.User
}

// eachEnv runs fn on both databases with a fresh environment (newEnv).
func eachEnv(t *testing.T, fn func(t *testing.T, d *db.DB, e *env)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, d *db.DB) { fn(t, d, newEnv(t, d)) })
}

func newEnv(t testing.TB, d *db.DB) *env {
	t.Helper()
	e := &env{t: t, d: d, clock: testkit.NewClock(time.Date(2026, 4, 1, 0, 30, 0, 0, time.UTC))}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.audit = audit.New(d, audit.NewSigner(priv), catalog, e.clock.Now)
	m, err := mfa.New(d, "medisac", mfa.WebAuthnConfig{RPID: "localhost", RPDisplayName: "medisac", RPOrigins: []string{"http://localhost"}}, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	q := jobs.New(d, e.clock.Now, logger)
	e.mailer, err = notify.NewMailer(d, q, nil, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	as := assess.NewService(d, e.audit, assessRegistry(), catalog, e.mailer, "", e.clock.Now)
	as.Wake = q.Notify
	e.srv, err = New(Deps{DB: d, Catalog: catalog, Audit: e.audit, MFA: m, Mailer: e.mailer, Queue: q, Logger: logger,
		Now: e.clock.Now, Demo: true, Devices: auth.NewDevices([]byte("web-test-device-cookie-secret-32b")), Touches: auth.NewTouches(), Assess: as})
	if err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv)
	t.Cleanup(e.ts.Close)
	e.srv.BaseURL = e.ts.URL
	e.srv.Orgs.Notices.BaseURL = e.ts.URL
	as.Mail.BaseURL = e.ts.URL

	e.hosp = e.mustOrg(auth.OrgInput{Kind: auth.KindHospital, Name: "北町総合病院", NameKana: "キタマチソウゴウビョウイン", Prefecture: "東京都"})
	e.clinic = e.mustOrg(auth.OrgInput{Kind: auth.KindClinic, Name: "南町クリニック", NameKana: "ミナミマチクリニック", Prefecture: "大阪府"})
	e.isac = e.mustOrg(auth.OrgInput{Kind: auth.KindISAC, Name: "医療ISAC事務局", NameKana: "イリョウアイザックジムキョク"})
	e.admin = e.mustUser("admin@kitamachi-hp.jp", "北町 花子", e.hosp, auth.RoleAdmin)
	e.staff = e.mustUser("staff@kitamachi-hp.jp", "北町 次郎", e.hosp, auth.RoleStaff)
	e.auditor = e.mustUser("audit@kitamachi-hp.jp", "監査 三郎", e.hosp, auth.RoleAuditor)
	e.other = e.mustUser("admin@minami-cl.jp", "南 四郎", e.clinic, auth.RoleAdmin)
	e.oper = e.mustUser("ops@isac.example.jp", "事務局 五郎", e.isac, auth.RoleAdmin)
	return e
}

func (e *env) mustOrg(in auth.OrgInput) *auth.Org {
	e.t.Helper()
	return seed.Org(e.t, e.d, in, e.clock.Now())
}

// mustUser makes a person with goodPassword, a member of org with role
// unless org is nil.
func (e *env) mustUser(email, name string, org *auth.Org, role auth.Role) *auth.User {
	e.t.Helper()
	in := auth.NewUser{Email: email, DisplayName: name, Password: goodPassword}
	if org != nil {
		return seed.MemberAs(e.t, e.d, org, in, role, e.clock.Now()).User
	}
	u, err := auth.CreateUser(bg, e.d, in, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// client is a browser: a cookie jar, no automatic redirects, and the CSRF
// token of the last page it saw.
type client struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signedIn returns a client with a full session of u in org, as if u had
// passed the password and the second factor.
func (e *env) signedIn(u *auth.User, org *auth.Org) *client {
	e.t.Helper()
	raw, s, err := auth.CreateSession(bg, e.d, u.ID, org.ID, true, "127.0.0.1", "test", auth.DefaultSessionPolicy, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	c := e.client()
	base, _ := url.Parse(e.ts.URL)
	c.c.Jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie, Value: raw, Path: "/"}})
	c.csrf = s.CSRFToken
	return c
}

type resp struct {
	status int
	body   string
	header http.Header
}

func (r resp) loc() string { return r.header.Get("Location") }

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

func (c *client) do(req *http.Request) resp {
	c.e.t.Helper()
	res, err := c.c.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if m := csrfMeta.FindSubmatch(b); m != nil && len(m[1]) > 0 {
		c.csrf = string(m[1])
	}
	return resp{status: res.StatusCode, body: string(b), header: res.Header}
}

func (c *client) get(path string) resp {
	c.e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.e.ts.URL+path, nil)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form with the client's CSRF token unless the form sets
// "csrf" itself.
func (c *client) post(path string, form url.Values) resp {
	c.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, c.e.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// text returns the catalog text in Japanese, HTML-escaped as a page shows it.
func text(key string, args ...any) string {
	return html.EscapeString(catalog.T("ja", key, args...))
}

func wantStatus(t *testing.T, r resp, want int) {
	t.Helper()
	if r.status != want {
		body := r.body
		if len(body) > 3000 {
			body = body[:3000]
		}
		t.Fatalf("status %d, want %d (Location %q)\n%s", r.status, want, r.loc(), body)
	}
}

func wantContains(t *testing.T, r resp, s string) {
	t.Helper()
	if !strings.Contains(r.body, s) {
		t.Fatalf("page does not contain %q", s)
	}
}

// mails returns the outbox, newest first.
func (e *env) mails(org string) []notify.Stored {
	e.t.Helper()
	ms, err := e.mailer.Outbox(bg, org, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

// mailsTo returns the outbox's mails to addr, newest first.
func (e *env) mailsTo(org, addr string) []notify.Stored {
	e.t.Helper()
	var out []notify.Stored
	for _, m := range e.mails(org) {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

func (e *env) linkIn(body, kind string) string {
	e.t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(e.ts.URL) + `(/` + kind + `/[A-Za-z0-9_-]+)`).FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no %s link in mail:\n%s", kind, body)
	}
	return m[1]
}

// auditCount counts the audit entries of org with action.
func (e *env) auditCount(org, action string) int {
	e.t.Helper()
	es, err := e.audit.List(bg, org, audit.Filter{ActionPrefix: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, x := range es {
		if x.Action == action {
			n++
		}
	}
	return n
}

func (e *env) role(org *auth.Org, u *auth.User) auth.Role {
	e.t.Helper()
	ms, err := auth.MembershipsOf(bg, e.d, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		if m.OrgID == org.ID {
			return m.Role
		}
	}
	return ""
}
