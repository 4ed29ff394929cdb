package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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
	"github.com/medisac/medisac/internal/notify"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/seed"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// clock is a settable test clock.

// person is a user with tokens in one organisation.
type person struct {
	user    *auth.User
	write   string // read-write token
	read    string // read-only token
	writeID string
	readID  string
	orgID   string
}

// fixture is an installation with an ISAC operator, hospital A and clinic
// B, each with people in every role.
type fixture struct {
	d      *db.DB
	api    *API
	clock  *testkit.Clock
	log    *audit.Log
	mailer *notify.Mailer

	isac, orgA, orgB         *auth.Org
	op                       person // ISAC admin
	adminA, staffA, auditorA person
	adminB, staffB           person
	inviteA                  string // email of a pending invitation into A
	proposalA                string // id of the operator's pending proposal into A
	cat                      *i18n.Catalog
	secretsA                 []string
	quietLogger              *slog.Logger
}

var catalogOnce = sync.OnceValue(i18n.MustLoad)

// assessRegistry is the checklist editions of the tests' API.
var assessRegistry = sync.OnceValue(assess.MustRegistry)

func newFixture(t testing.TB, d *db.DB) *fixture {
	t.Helper()
	clk := testkit.NewClock(time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC))
	f := &fixture{d: d, clock: clk, cat: catalogOnce(), quietLogger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.log = audit.New(d, nil, i18n.MustLoad(), clk.Now)
	mailer, err := notify.NewMailer(d, nil, nil, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.mailer = mailer
	f.api = New(Deps{DB: d, Catalog: f.cat, Audit: f.log, Mailer: mailer, Now: clk.Now, Logger: f.quietLogger, BaseURL: "https://medisac.example.jp/",
		Assess: assess.NewService(d, f.log, assessRegistry(), f.cat, mailer, "https://medisac.example.jp/", clk.Now)})
	mkOrg := func(kind auth.OrgKind, name string) *auth.Org {
		return seed.Org(t, d, auth.OrgInput{Kind: kind, Name: name, NameKana: "テスト", Prefecture: "東京都"}, clk.Now())
	}
	f.isac = mkOrg(auth.KindISAC, "医療ISAC運営")
	f.orgA = mkOrg(auth.KindHospital, "A総合病院")
	f.orgB = mkOrg(auth.KindClinic, "Bクリニック")
	f.op = f.person(t, f.isac, "op@isac.example.jp", "ja", auth.RoleAdmin)
	f.adminA = f.person(t, f.orgA, "admin@a.example.jp", "en", auth.RoleAdmin)
	f.staffA = f.person(t, f.orgA, "staff@a.example.jp", "ja", auth.RoleStaff)
	f.auditorA = f.person(t, f.orgA, "auditor@a.example.jp", "ja", auth.RoleAuditor)
	f.adminB = f.person(t, f.orgB, "admin@b.example.jp", "ja", auth.RoleAdmin)
	f.staffB = f.person(t, f.orgB, "staff@b.example.jp", "ja", auth.RoleStaff)

	// Organisation A's own activity: an invitation and an audit trail.
	f.inviteA = "newcomer@a.example.jp"
	if rec := f.do(t, "POST", "/api/v1/orgs/"+f.orgA.ID+"/invitations", f.adminA.write, `{"email":"`+f.inviteA+`","role":"staff"}`); rec.Code != http.StatusCreated {
		t.Fatalf("fixture invite: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(t, "PATCH", "/api/v1/orgs/"+f.orgA.ID, f.adminA.write, `{"name_kana":"エーソウゴウビョウイン","beds":120}`); rec.Code != http.StatusOK {
		t.Fatalf("fixture update: %d %s", rec.Code, rec.Body)
	}
	// The operator's proposal of an admin for A, waiting for A's admins.
	rec := f.do(t, "POST", "/api/v1/orgs/"+f.orgA.ID+"/invitations", f.op.write, `{"email":"proposed@a.example.jp","role":"admin"}`)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("fixture proposal: %d %s", rec.Code, rec.Body)
	}
	f.proposalA = decodeBody[proposalCreated](t, rec).Proposal.ID
	f.secretsA = []string{f.proposalA, "proposed@a.example.jp", f.orgA.ID, f.orgA.Name, f.adminA.user.ID, f.staffA.user.ID, f.auditorA.user.ID,
		f.adminA.user.Email, f.staffA.user.Email, f.auditorA.user.Email, f.adminA.writeID, f.adminA.readID,
		f.staffA.writeID, f.auditorA.writeID, f.inviteA, "エーソウゴウビョウイン"}
	return f
}

// person adds a user (no password, named after the e-mail's local part)
// with a role in org and gives them tokens.
func (f *fixture) person(t testing.TB, org *auth.Org, email, lang string, role auth.Role) person {
	t.Helper()
	sp := seed.MemberAs(t, f.d, org, auth.NewUser{Email: email, DisplayName: strings.Split(email, "@")[0], Lang: lang}, role, f.clock.Now())
	return tokened(t, f.d, sp, f.clock.Now())
}

// tokened gives a seeded person a read-write token "rw" and a read-only
// token "ro".
func tokened(t testing.TB, d *db.DB, sp seed.Person, now time.Time) person {
	t.Helper()
	p := person{user: sp.User, orgID: sp.Org.ID}
	var tok *auth.APIToken
	p.write, tok = seed.Token(t, d, sp, "rw", true, now)
	p.writeID = tok.ID
	p.read, tok = seed.Token(t, d, sp, "ro", false, now)
	p.readID = tok.ID
	return p
}

// do sends one request through the real handler.
func (f *fixture) do(t testing.TB, method, path, token, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.RemoteAddr = "192.0.2.10:41000"
	r.Header.Set("User-Agent", "api-test/1.0")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, r)
	return w
}

// apiError decodes the error shape, failing when the body is not it.
func apiError(t testing.TB, rec *httptest.ResponseRecorder) errorDetail {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error content type %q", ct)
	}
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	var b errorBody
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("error body is not the error shape: %v", err)
	}
	if b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("error without code or message: %+v", b.Error)
	}
	return b.Error
}

func decodeBody[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T: %v (%s)", v, err, rec.Body)
	}
	return v
}

func TestMe(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		rec := f.do(t, "GET", "/api/v1/me", f.adminA.read, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		me := decodeBody[meResponse](t, rec)
		if me.User.ID != f.adminA.user.ID || me.User.Email != f.adminA.user.Email {
			t.Errorf("user = %+v", me.User)
		}
		if me.Org.ID != f.orgA.ID || me.Role != auth.RoleAdmin || me.Token.ID != f.adminA.readID || me.Token.Write {
			t.Errorf("me = %+v org %+v", me, me.Org)
		}
		if len(me.Memberships) != 1 || me.Memberships[0].OrgID != f.orgA.ID {
			t.Errorf("memberships = %+v", me.Memberships)
		}
		if strings.Contains(rec.Body.String(), "password") && strings.Contains(rec.Body.String(), "$argon2") {
			t.Error("password hash in response")
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
		}
	})
}

func TestOrgs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)

		// Operators list and filter all organisations.
		rec := f.do(t, "GET", "/api/v1/orgs?kind=hospital", f.op.read, "")
		list := decodeBody[orgList](t, rec)
		if rec.Code != 200 || len(list.Orgs) != 1 || list.Orgs[0].ID != f.orgA.ID {
			t.Fatalf("operator kind filter: %d %+v", rec.Code, list)
		}
		rec = f.do(t, "GET", "/api/v1/orgs?q=B%E3%82%AF%E3%83%AA&limit=10", f.op.read, "")
		list = decodeBody[orgList](t, rec)
		if len(list.Orgs) != 1 || list.Orgs[0].ID != f.orgB.ID || list.Limit != 10 {
			t.Fatalf("operator q filter: %+v", list)
		}
		rec = f.do(t, "GET", "/api/v1/orgs", f.op.read, "")
		if list = decodeBody[orgList](t, rec); len(list.Orgs) != 3 {
			t.Fatalf("operator sees %d orgs, want 3", len(list.Orgs))
		}
		// Others see their own.
		rec = f.do(t, "GET", "/api/v1/orgs", f.staffA.read, "")
		if list = decodeBody[orgList](t, rec); len(list.Orgs) != 1 || list.Orgs[0].ID != f.orgA.ID {
			t.Fatalf("member sees %+v", list.Orgs)
		}

		// Only operators create organisations; the first admin is invited.
		rec = f.do(t, "POST", "/api/v1/orgs", f.adminA.write, `{"kind":"clinic","name":"勝手クリニック"}`)
		if e := apiError(t, rec); rec.Code != 403 || e.Code != "forbidden" {
			t.Fatalf("non-operator create: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "POST", "/api/v1/orgs", f.op.write, `{"kind":"clinic","name":"新しいクリニック","name_kana":"アタラシイクリニック","prefecture":"大阪府","medical_code":"27-12345-678","beds":0,"admin_email":" Head@New.example.jp "}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		created := decodeBody[orgCreated](t, rec)
		if created.Org.Name != "新しいクリニック" || created.Org.MedicalCode != "2712345678" {
			t.Errorf("created org = %+v", created.Org)
		}
		if created.Invitation == nil || created.Invitation.Email != "head@new.example.jp" || created.Invitation.Role != auth.RoleAdmin {
			t.Fatalf("invitation = %+v", created.Invitation)
		}
		out, err := f.mailer.Outbox(context.Background(), created.Org.ID, 10)
		if err != nil || len(out) != 1 {
			t.Fatalf("outbox = %+v, %v", out, err)
		}
		if m := out[0]; m.To != "head@new.example.jp" || !strings.Contains(m.Subject, "新しいクリニック") ||
			!strings.Contains(m.Body, "https://medisac.example.jp/invite/") || !strings.Contains(m.Body, "管理者") {
			t.Errorf("invitation mail = %+v", m)
		} else {
			raw := strings.Fields(m.Body[strings.Index(m.Body, "/invite/")+len("/invite/"):])[0]
			l, err := auth.PeekLink(context.Background(), d, auth.LinkInvite, raw, f.clock.Now())
			if err != nil || l.OrgID != created.Org.ID || l.Role != auth.RoleAdmin || l.Email != "head@new.example.jp" {
				t.Errorf("link in mail = %+v, %v", l, err)
			}
		}
		if loc := rec.Header().Get("Location"); loc != "/api/v1/orgs/"+created.Org.ID {
			t.Errorf("Location = %q", loc)
		}
		rec = f.do(t, "GET", "/api/v1/orgs/"+created.Org.ID+"/invitations", f.op.read, "")
		invs := decodeBody[invitationList](t, rec)
		if len(invs.Invitations) != 1 || invs.Invitations[0].Email != "head@new.example.jp" {
			t.Errorf("pending invitations = %+v", invs)
		}
		// Validation errors name the field.
		rec = f.do(t, "POST", "/api/v1/orgs", f.op.write, `{"kind":"castle","name":"x"}`)
		if e := apiError(t, rec); rec.Code != 400 || e.Field != "kind" {
			t.Errorf("bad kind: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "POST", "/api/v1/orgs", f.op.write, `{"kind":"clinic","name":"x","admin_email":"not an address"}`)
		if e := apiError(t, rec); rec.Code != 400 || e.Field != "admin_email" {
			t.Errorf("bad admin_email: %d %+v", rec.Code, e)
		}

		// Get and patch.
		rec = f.do(t, "GET", "/api/v1/orgs/"+f.orgA.ID, f.staffA.read, "")
		if o := decodeBody[auth.Org](t, rec); rec.Code != 200 || o.Beds == nil || *o.Beds != 120 {
			t.Fatalf("get: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "PATCH", "/api/v1/orgs/"+f.orgA.ID, f.adminA.write, `{"beds":null,"mfa_policy":"everyone"}`)
		o := decodeBody[auth.Org](t, rec)
		if rec.Code != 200 || o.Beds != nil || o.MFAPolicy != auth.MFAEveryone || o.Name != f.orgA.Name || o.NameKana != "エーソウゴウビョウイン" {
			t.Fatalf("patch: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "PATCH", "/api/v1/orgs/"+f.orgA.ID, f.adminA.write, `{"kind":"clinic"}`)
		if e := apiError(t, rec); rec.Code != 403 || e.Field != "kind" {
			t.Errorf("admin changes kind: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "PATCH", "/api/v1/orgs/"+f.orgA.ID, f.staffA.write, `{"name":"乗っ取り"}`)
		if e := apiError(t, rec); rec.Code != 403 || e.Code != "forbidden" {
			t.Errorf("staff patch: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "PATCH", "/api/v1/orgs/"+f.orgA.ID, f.op.write, `{"kind":"clinic"}`)
		if o := decodeBody[auth.Org](t, rec); rec.Code != 200 || o.Kind != auth.KindClinic {
			t.Errorf("operator changes kind: %d %s", rec.Code, rec.Body)
		}
	})
}

func TestMembers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		base := "/api/v1/orgs/" + f.orgA.ID
		rec := f.do(t, "GET", base+"/members", f.staffA.read, "")
		ms := decodeBody[memberList](t, rec)
		if rec.Code != 200 || len(ms.Members) != 3 {
			t.Fatalf("members: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "GET", base+"/invitations", f.staffA.read, "")
		if invs := decodeBody[invitationList](t, rec); len(invs.Invitations) != 1 || invs.Invitations[0].Email != f.inviteA {
			t.Fatalf("invitations: %s", rec.Body)
		}
		// The ISAC operator does not see whom A's admin invited.
		rec = f.do(t, "GET", base+"/invitations", f.op.read, "")
		if invs := decodeBody[invitationList](t, rec); rec.Code != 200 || len(invs.Invitations) != 0 {
			t.Fatalf("invitations seen by the operator: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "POST", base+"/invitations", f.adminA.write, `{"email":"`+f.staffA.user.Email+`","role":"admin"}`)
		if e := apiError(t, rec); rec.Code != 409 || e.Field != "email" {
			t.Errorf("invite a member: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "POST", base+"/invitations", f.staffA.write, `{"email":"x@a.example.jp","role":"staff"}`)
		if e := apiError(t, rec); rec.Code != 403 {
			t.Errorf("staff invites: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "POST", base+"/invitations", f.adminA.write, `{"email":"x@a.example.jp","role":"boss"}`)
		if e := apiError(t, rec); rec.Code != 400 || e.Field != "role" {
			t.Errorf("bad role: %d %+v", rec.Code, e)
		}

		rec = f.do(t, "PATCH", base+"/members/"+f.staffA.user.ID, f.adminA.write, `{"role":"auditor"}`)
		if m := decodeBody[auth.Membership](t, rec); rec.Code != 200 || m.Role != auth.RoleAuditor {
			t.Fatalf("change role: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "PATCH", base+"/members/"+f.adminA.user.ID, f.adminA.write, `{"role":"staff"}`)
		if e := apiError(t, rec); rec.Code != 409 || e.Code != "conflict" {
			t.Errorf("last admin demoted: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "DELETE", base+"/members/"+f.auditorA.user.ID, f.adminA.write, "")
		if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
			t.Fatalf("remove: %d %s", rec.Code, rec.Body)
		}
		// The removed person's tokens stop working.
		rec = f.do(t, "GET", "/api/v1/me", f.auditorA.read, "")
		if e := apiError(t, rec); rec.Code != 401 {
			t.Errorf("removed member's token: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "DELETE", base+"/members/"+f.auditorA.user.ID, f.adminA.write, "")
		if e := apiError(t, rec); rec.Code != 404 {
			t.Errorf("remove twice: %d %+v", rec.Code, e)
		}
		// An ISAC operator admin changes no role and removes nobody in
		// another organisation: its members look missing.
		missing := f.do(t, "PATCH", base+"/members/"+db.NewID(), f.op.write, `{"role":"admin"}`)
		rec = f.do(t, "PATCH", base+"/members/"+f.staffA.user.ID, f.op.write, `{"role":"admin"}`)
		if rec.Code != 404 || rec.Body.String() != missing.Body.String() {
			t.Errorf("operator changes role: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "DELETE", base+"/members/"+f.adminA.user.ID, f.op.write, "")
		if rec.Code != 404 {
			t.Errorf("operator removes a member: %d %s", rec.Code, rec.Body)
		}
	})
}

func TestTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		rec := f.do(t, "GET", "/api/v1/tokens", f.staffA.read, "")
		tl := decodeBody[tokenList](t, rec)
		if rec.Code != 200 || len(tl.Tokens) != 2 {
			t.Fatalf("tokens: %d %s", rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), auth.TokenPrefix) {
			t.Error("token value in listing")
		}
		rec = f.do(t, "DELETE", "/api/v1/tokens/"+f.staffA.readID, f.staffA.write, "")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
		}
		if rec := f.do(t, "GET", "/api/v1/me", f.staffA.read, ""); rec.Code != 401 {
			t.Errorf("revoked token still works: %d", rec.Code)
		}
		rec = f.do(t, "DELETE", "/api/v1/tokens/"+f.staffA.readID, f.staffA.write, "")
		if e := apiError(t, rec); rec.Code != 404 {
			t.Errorf("revoke twice: %d %+v", rec.Code, e)
		}
	})
}

// TestTokenRevokeReadOnly: a read-only token may not revoke its owner's
// tokens (a stolen one must not lock the owner out); an auditor's token
// that is not read-only may revoke the auditor's own tokens, nobody else's.
func TestTokenRevokeReadOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		for _, id := range []string{f.adminA.writeID, f.adminA.readID} {
			rec := f.do(t, "DELETE", "/api/v1/tokens/"+id, f.adminA.read, "")
			e := apiError(t, rec)
			if rec.Code != http.StatusForbidden || (e.Message != f.cat.T("ja", "auth.token.revoke_read_only") && e.Message != f.cat.T("en", "auth.token.revoke_read_only")) {
				t.Errorf("read-only token revoking %s: %d %+v", id, rec.Code, e)
			}
		}
		if rec := f.do(t, "GET", "/api/v1/me", f.adminA.write, ""); rec.Code != http.StatusOK {
			t.Fatalf("the write token was revoked: %d", rec.Code)
		}
		var n int
		if err := d.QueryRow(context.Background(), `SELECT COUNT(*) FROM api_tokens WHERE user_id = ?`, f.adminA.user.ID).Scan(&n); err != nil || n != 2 {
			t.Fatalf("tokens left: %d %v", n, err)
		}
		// The auditor's write token (made here; the account page gives
		// auditors read-only ones) revokes the auditor's own token: the
		// route no longer refuses auditors before the table is asked.
		rec := f.do(t, "DELETE", "/api/v1/tokens/"+f.auditorA.readID, f.auditorA.write, "")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("auditor revoking own token: %d %s", rec.Code, rec.Body)
		}
		rec = f.do(t, "DELETE", "/api/v1/tokens/"+f.staffA.readID, f.auditorA.write, "")
		if rec.Code != http.StatusNotFound {
			t.Fatalf("auditor revoking the staff's token: %d %s", rec.Code, rec.Body)
		}
	})
}

func TestAuditEndpoint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		for _, tc := range []struct {
			name  string
			token string
			path  string
			want  int
		}{
			{"admin own", f.adminA.read, "/api/v1/audit", 200},
			{"auditor own", f.auditorA.read, "/api/v1/audit", 200},
			{"admin own by id", f.adminA.read, "/api/v1/orgs/" + f.orgA.ID + "/audit", 200},
			{"staff", f.staffA.read, "/api/v1/audit", 403},
			{"admin B on A", f.adminB.write, "/api/v1/orgs/" + f.orgA.ID + "/audit", 404},
			{"operator on A", f.op.write, "/api/v1/orgs/" + f.orgA.ID + "/audit", 404},
			{"bad filter", f.adminA.read, "/api/v1/audit?outcome=maybe", 400},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rec := f.do(t, "GET", tc.path, tc.token, "")
				if rec.Code != tc.want {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
				}
				if tc.want != 200 {
					apiError(t, rec)
					return
				}
				page := decodeBody[auditPage](t, rec)
				if len(page.Entries) == 0 {
					t.Fatal("no entries")
				}
				for _, e := range page.Entries {
					if e.OrgID != f.orgA.ID {
						t.Errorf("entry of org %s in A's log", e.OrgID)
					}
				}
			})
		}
		// The operator's view of "its" audit log never holds A's entries.
		rec := f.do(t, "GET", "/api/v1/audit", f.op.read, "")
		for _, e := range decodeBody[auditPage](t, rec).Entries {
			if e.OrgID != f.isac.ID {
				t.Errorf("operator sees entry of %s", e.OrgID)
			}
		}
		// Reads are recorded, with who, where and how.
		entries, err := f.log.List(context.Background(), f.orgA.ID, audit.Filter{ActionPrefix: audit.ActionAuditRead})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) < 3 {
			t.Fatalf("%d audit.read entries", len(entries))
		}
		e := entries[0]
		if e.ActorID == "" || e.Actor == "" || e.IP != "192.0.2.10" || e.UserAgent != "api-test/1.0" || e.Outcome != audit.Success || e.ObjectType != "audit_log" {
			t.Errorf("audit.read entry = %+v", e)
		}
		// Paging with next_before.
		rec = f.do(t, "GET", "/api/v1/audit?limit=1", f.adminA.read, "")
		p1 := decodeBody[auditPage](t, rec)
		if len(p1.Entries) != 1 || p1.NextBefore != p1.Entries[0].Seq {
			t.Fatalf("page 1 = %+v", p1)
		}
		if p1.Entries[0].ActionLabel == "" {
			t.Error("no action label")
		}
	})
}

// TestChangesAreAudited checks that each change writes an entry with the
// actor, organisation, object, outcome, address and user agent.
func TestChangesAreAudited(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		base := "/api/v1/orgs/" + f.orgA.ID
		steps := []struct {
			method, path, token, body string
			org, action, objectID     string
		}{
			{"PATCH", base, f.adminA.write, `{"name":"A総合病院（新）"}`, f.orgA.ID, audit.ActionOrgUpdate, f.orgA.ID},
			{"POST", base + "/invitations", f.adminA.write, `{"email":"n2@a.example.jp","role":"auditor"}`, f.orgA.ID, audit.ActionInvite, "n2@a.example.jp"},
			{"PATCH", base + "/members/" + f.staffA.user.ID, f.adminA.write, `{"role":"auditor"}`, f.orgA.ID, audit.ActionMemberRole, f.staffA.user.ID},
			{"DELETE", base + "/members/" + f.staffA.user.ID, f.adminA.write, "", f.orgA.ID, audit.ActionMemberRemove, f.staffA.user.ID},
			{"DELETE", "/api/v1/tokens/" + f.adminA.readID, f.adminA.write, "", f.orgA.ID, audit.ActionTokenRevoke, f.adminA.readID},
			{"GET", base + "/members", f.adminA.write, "", f.orgA.ID, audit.ActionSensitiveRead, f.orgA.ID},
			{"PATCH", "/api/v1/orgs/" + f.orgB.ID, f.op.write, `{"beds":19}`, f.orgB.ID, audit.ActionOrgUpdate, f.orgB.ID},
		}
		for _, s := range steps {
			rec := f.do(t, s.method, s.path, s.token, s.body)
			if rec.Code >= 300 {
				t.Fatalf("%s %s: %d %s", s.method, s.path, rec.Code, rec.Body)
			}
			es, err := f.log.List(ctx, s.org, audit.Filter{ActionPrefix: s.action, ObjectID: s.objectID, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != 1 {
				t.Fatalf("%s %s: no %s entry in org %s", s.method, s.path, s.action, s.org)
			}
			e := es[0]
			if e.ActorID == "" || e.Actor == "" || e.Outcome != audit.Success || e.IP != "192.0.2.10" || e.UserAgent != "api-test/1.0" || e.ObjectType == "" {
				t.Errorf("%s: entry %+v", s.action, e)
			}
		}
		// A refused write is recorded as denied.
		if rec := f.do(t, "PATCH", base, f.auditorA.write, `{"name":"x"}`); rec.Code != 403 {
			t.Fatalf("auditor write: %d", rec.Code)
		}
		es, err := f.log.List(ctx, f.orgA.ID, audit.Filter{ActionPrefix: audit.ActionAccessDenied, ActorID: f.auditorA.user.ID})
		if err != nil || len(es) != 1 || es[0].Outcome != audit.Denied {
			t.Errorf("denied entries = %+v, %v", es, err)
		}
		// A failed change leaves no success entry behind.
		before, _ := f.log.List(ctx, f.orgA.ID, audit.Filter{ActionPrefix: audit.ActionOrgUpdate})
		if rec := f.do(t, "PATCH", base, f.adminA.write, `{"prefecture":"ムー大陸"}`); rec.Code != 400 {
			t.Fatalf("bad patch: %d", rec.Code)
		}
		after, _ := f.log.List(ctx, f.orgA.ID, audit.Filter{ActionPrefix: audit.ActionOrgUpdate})
		if len(after) != len(before) {
			t.Error("failed change was recorded as a change")
		}
	})
}

func TestErrors(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		orgA := "/api/v1/orgs/" + f.orgA.ID
		big := `{"name":"` + strings.Repeat("あ", MaxBody/3+10) + `"}`
		for _, tc := range []struct {
			name, method, path, token, body string
			hdr                             []string
			status                          int
			code, field, msgHas             string
		}{
			{"no token", "GET", "/api/v1/me", "", "", nil, 401, "unauthenticated", "", "Bearer"},
			{"no token english", "GET", "/api/v1/me", "", "", []string{"Accept-Language", "en-US,en;q=0.9"}, 401, "unauthenticated", "", "No API token"},
			{"no token japanese", "GET", "/api/v1/me", "", "", []string{"Accept-Language", "ja"}, 401, "unauthenticated", "", "APIトークンがありません"},
			{"bad token", "GET", "/api/v1/me", auth.TokenPrefix + "nope", "", nil, 401, "unauthenticated", "", "APIトークン"},
			{"basic auth", "GET", "/api/v1/me", "", "", []string{"Authorization", "Basic YTpi"}, 401, "unauthenticated", "", ""},
			{"malformed json names field", "PATCH", orgA, f.adminA.write, `{"name": 5}`, nil, 400, "invalid", "name", `"name"`},
			{"wrong type beds", "PATCH", orgA, f.adminA.write, `{"beds": "many"}`, nil, 400, "invalid", "beds", `"beds"`},
			{"fraction beds", "PATCH", orgA, f.adminA.write, `{"beds": 1.5}`, nil, 400, "invalid", "beds", ""},
			{"unknown field", "PATCH", orgA, f.adminA.write, `{"name":"x","colour":"red"}`, nil, 400, "invalid", "colour", `"colour"`},
			{"unknown field create", "POST", "/api/v1/orgs", f.op.write, `{"kind":"clinic","name":"x","id":"abc"}`, nil, 400, "invalid", "id", ""},
			{"syntax", "PATCH", orgA, f.adminA.write, `{"name":"x",}`, nil, 400, "invalid", "", "byte"},
			{"truncated", "PATCH", orgA, f.adminA.write, `{"name":"x"`, nil, 400, "invalid", "", "JSON"},
			{"trailing", "PATCH", orgA, f.adminA.write, `{"name":"x"} {}`, nil, 400, "invalid", "", "Send exactly one object"},
			{"array", "PATCH", orgA, f.adminA.write, `[1,2]`, nil, 400, "invalid", "", "JSON object"},
			{"empty", "POST", orgA + "/invitations", f.adminA.write, ``, nil, 400, "invalid", "", "empty"},
			{"nul in text", "PATCH", orgA, f.adminA.write, `{"name":"a\u0000b"}`, nil, 400, "invalid", "name", ""},
			{"newline in name", "PATCH", orgA, f.adminA.write, `{"name":"a\nb"}`, nil, 400, "invalid", "name", ""},
			{"validation", "PATCH", orgA, f.adminA.write, `{"medical_code":"12"}`, nil, 400, "invalid", "medical_code", ""},
			{"too large", "PATCH", orgA, f.adminA.write, big, nil, 413, "too_large", "", "1 MiB"},
			{"bad query", "GET", "/api/v1/orgs?limit=0", f.op.read, "", nil, 400, "invalid", "limit", ""},
			{"unknown query", "GET", "/api/v1/orgs?colour=red", f.op.read, "", nil, 400, "invalid", "colour", ""},
			{"unknown path", "GET", "/api/v1/nothing", f.adminA.read, "", nil, 404, "not_found", "", ""},
			{"unknown version", "GET", "/api/v2/me", "", "", nil, 404, "not_found", "", ""},
			{"wrong method", "PUT", "/api/v1/me", f.adminA.write, "{}", nil, 405, "method_not_allowed", "", ""},
			{"missing org", "GET", "/api/v1/orgs/" + db.NewID(), f.adminA.read, "", nil, 404, "not_found", "", ""},
			{"garbage id", "GET", "/api/v1/orgs/%27%20OR%201=1", f.op.read, "", nil, 404, "not_found", "", ""},
			{"read-only token", "PATCH", orgA, f.adminA.read, `{"name":"x"}`, nil, 403, "forbidden", "", "read-only"},
			{"auditor", "DELETE", orgA + "/members/" + f.staffA.user.ID, f.auditorA.write, "", nil, 403, "forbidden", "", "監査担当"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rec := f.do(t, tc.method, tc.path, tc.token, tc.body, tc.hdr...)
				if rec.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
				}
				raw := rec.Body.String()
				e := apiError(t, rec)
				if e.Code != tc.code || e.Field != tc.field {
					t.Errorf("error = %+v, want code %q field %q", e, tc.code, tc.field)
				}
				if tc.msgHas != "" && !strings.Contains(e.Message, tc.msgHas) {
					t.Errorf("message %q lacks %q", e.Message, tc.msgHas)
				}
				for _, leak := range []string{"goroutine", "runtime/", ".go:", "sql", "SQLSTATE", "json:", "db:"} {
					if strings.Contains(raw, leak) {
						t.Errorf("response leaks %q: %s", leak, raw)
					}
				}
				if tc.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if tc.status == 405 && rec.Header().Get("Allow") != "GET" {
					t.Errorf("Allow = %q", rec.Header().Get("Allow"))
				}
			})
		}
	})
}

func TestExpiredToken(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		exp := f.clock.Now().Add(time.Hour)
		raw, _, err := auth.CreateToken(context.Background(), d, f.staffA.user.ID, f.orgA.ID, "short", true, &exp, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if rec := f.do(t, "GET", "/api/v1/me", raw, ""); rec.Code != 200 {
			t.Fatalf("fresh token: %d", rec.Code)
		}
		f.clock.Advance(time.Hour)
		rec := f.do(t, "GET", "/api/v1/me", raw, "")
		if e := apiError(t, rec); rec.Code != 401 || e.Code != "unauthenticated" {
			t.Fatalf("expired token: %d %+v", rec.Code, e)
		}
	})
}

func TestRateLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		f.api.AuthFailLimit = 3
		for i := 0; i < 3; i++ {
			if rec := f.do(t, "GET", "/api/v1/me", auth.TokenPrefix+"guess", ""); rec.Code != 401 {
				t.Fatalf("attempt %d: %d", i, rec.Code)
			}
		}
		rec := f.do(t, "GET", "/api/v1/me", auth.TokenPrefix+"guess", "")
		if e := apiError(t, rec); rec.Code != 429 || e.Code != "rate_limited" {
			t.Fatalf("4th attempt: %d %+v", rec.Code, e)
		}
		if ra := rec.Header().Get("Retry-After"); ra != "60" {
			t.Errorf("Retry-After = %q", ra)
		}
		// A valid token still works from the same address.
		if rec := f.do(t, "GET", "/api/v1/me", f.staffA.read, ""); rec.Code != 200 {
			t.Errorf("valid token while limited: %d", rec.Code)
		}
		// The public document is not limited.
		if rec := f.do(t, "GET", "/api/v1/openapi.json", "", ""); rec.Code != 200 {
			t.Errorf("openapi while limited: %d", rec.Code)
		}
		f.clock.Advance(time.Minute)
		if rec := f.do(t, "GET", "/api/v1/me", "", ""); rec.Code != 401 {
			t.Errorf("next window: %d", rec.Code)
		}
	})
}

func TestPanicIsInternalError(t *testing.T) {
	f := &fixture{cat: catalogOnce()}
	a := New(Deps{Catalog: f.cat, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	a.mux.HandleFunc("GET /api/v1/boom", func(http.ResponseWriter, *http.Request) { panic("secret detail") })
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/boom", nil))
	if w.Code != 500 || strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if e := apiError(t, w); e.Code != "internal" {
		t.Errorf("code %q", e.Code)
	}
}
