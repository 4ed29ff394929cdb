package auth_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
)

// productionArgon2 keeps the real cost parameters for the benchmark and the
// format test; the other tests hash with cheap ones to stay fast under -race.
var productionArgon2 = auth.DefaultArgon2

func TestMain(m *testing.M) {
	auth.DefaultArgon2 = auth.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	os.Exit(dbtest.Main(m))
}

var (
	ctx     = context.Background()
	t0      = time.Date(2026, 4, 1, 0, 30, 0, 0, time.UTC)
	catalog = i18n.MustLoad()
)

const goodPassword = "Kx7#mQ2v-river"

// fixture is a small world: a hospital with an admin, a staff member and an
// auditor, a second clinic with its own admin, and an ISAC operator.
type fixture struct {
	hosp, clinic, isac                 *auth.Org
	admin, staff, auditor, other, oper *auth.User
}

func newFixture(t *testing.T, q db.Querier) *fixture {
	t.Helper()
	f := &fixture{
		hosp:   mustOrg(t, q, auth.OrgInput{Kind: auth.KindHospital, Name: "北町総合病院", NameKana: "キタマチソウゴウビョウイン", Prefecture: "東京都"}),
		clinic: mustOrg(t, q, auth.OrgInput{Kind: auth.KindClinic, Name: "南町クリニック", NameKana: "ミナミマチクリニック", Prefecture: "大阪府"}),
		isac:   mustOrg(t, q, auth.OrgInput{Kind: auth.KindISAC, Name: "医療ISAC事務局", NameKana: "イリョウアイザックジムキョク"}),
	}
	f.admin = mustUser(t, q, "admin@kitamachi-hp.jp", "北町 花子", f.hosp, auth.RoleAdmin)
	f.staff = mustUser(t, q, "staff@kitamachi-hp.jp", "北町 次郎", f.hosp, auth.RoleStaff)
	f.auditor = mustUser(t, q, "audit@kitamachi-hp.jp", "監査 三郎", f.hosp, auth.RoleAuditor)
	f.other = mustUser(t, q, "admin@minami-cl.jp", "南 四郎", f.clinic, auth.RoleAdmin)
	f.oper = mustUser(t, q, "ops@isac.example.jp", "事務局 五郎", f.isac, auth.RoleAdmin)
	return f
}

func mustOrg(t *testing.T, q db.Querier, in auth.OrgInput) *auth.Org {
	t.Helper()
	o, err := auth.CreateOrg(ctx, q, in, t0)
	if err != nil {
		t.Fatalf("CreateOrg %q: %v", in.Name, err)
	}
	return o
}

func mustUser(t *testing.T, q db.Querier, email, name string, org *auth.Org, role auth.Role) *auth.User {
	t.Helper()
	u, err := auth.CreateUser(ctx, q, auth.NewUser{Email: email, DisplayName: name, Password: goodPassword}, t0)
	if err != nil {
		t.Fatalf("CreateUser %s: %v", email, err)
	}
	if org != nil {
		if err := auth.AddMember(ctx, q, org.ID, u.ID, role, t0); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
	}
	return u
}

// principal signs u in to org the way the web layer does: a session, then
// the session's principal.
func principal(t *testing.T, q db.Querier, u *auth.User, org *auth.Org) *auth.Principal {
	t.Helper()
	_, s, err := auth.CreateSession(ctx, q, u.ID, org.ID, true, "192.0.2.1", "test", auth.DefaultSessionPolicy, t0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.PrincipalForSession(ctx, q, s)
	if err != nil {
		t.Fatalf("PrincipalForSession: %v", err)
	}
	return p
}

// signedIn is a signed-in principal for each person of the fixture.
type signedIn struct {
	admin, staff, auditor, other, oper *auth.Principal
}

// signInAll signs each person of the fixture in to their organisation.
func signInAll(t *testing.T, q db.Querier, f *fixture) signedIn {
	t.Helper()
	return signedIn{
		admin:   principal(t, q, f.admin, f.hosp),
		staff:   principal(t, q, f.staff, f.hosp),
		auditor: principal(t, q, f.auditor, f.hosp),
		other:   principal(t, q, f.other, f.clinic),
		oper:    principal(t, q, f.oper, f.isac),
	}
}

// wantAppErr fails unless err is an application error with code, key and
// field, and its message renders in both languages with the right number
// of arguments.
func wantAppErr(t *testing.T, err error, code apperr.Code, key, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s %s", code, key)
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got %v (%T), want application error %s", err, err, key)
	}
	if ae.Code != code || ae.Key != key || ae.Field != field {
		t.Fatalf("got %s %s field %q, want %s %s field %q", ae.Code, ae.Key, ae.Field, code, key, field)
	}
	checkRenders(t, ae.Key, ae.Args...)
}

func checkRenders(t *testing.T, key string, args ...any) {
	t.Helper()
	for _, lang := range i18n.Languages {
		if !catalog.Has(lang, key) {
			t.Errorf("catalog %s has no %q", lang, key)
			continue
		}
		s := catalog.T(lang, key, args...)
		if strings.Contains(s, "%!") || (len(args) == 0 && strings.Contains(s, "%")) {
			t.Errorf("%s %q with args %v renders as %q", lang, key, args, s)
		}
	}
}

func wantNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("got %v, want db.ErrNotFound", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, q db.Querier, query string, args ...any) int {
	t.Helper()
	var n int
	if err := q.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// twoNodes returns two independent handles on one database, as two
// application nodes would have.
func twoNodes(t *testing.T, d *db.DB) (*db.DB, *db.DB) {
	t.Helper()
	target := d.Source
	if d.Dialect() == db.Postgres {
		target = dbtest.PostgresURL(t)
	}
	a, err := db.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if _, err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := db.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if a.Dialect() != d.Dialect() || b.Dialect() != d.Dialect() {
		t.Fatalf("dialects %s %s, want %s", a.Dialect(), b.Dialect(), d.Dialect())
	}
	return a, b
}
