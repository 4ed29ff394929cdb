package web

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

func TestCSRFRefused(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.signedIn(e.admin, e.hosp)
		for _, token := range []string{"", "forged-token-forged-token-forged-token"} {
			r := c.post("/account/profile", url.Values{"csrf": {token}, "display_name": {"書き換え"}, "lang": {"en"}})
			wantPage(t, r, http.StatusForbidden, text("error.csrf"))
			r = c.post("/org/members/"+e.staff.ID+"/role", url.Values{"csrf": {token}, "role": {"admin"}})
			wantStatus(t, r, http.StatusForbidden)
		}
		u, err := auth.GetUser(bg, d, e.admin.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.DisplayName != e.admin.DisplayName || u.Lang != "ja" {
			t.Fatalf("profile changed without a CSRF token: %q %q", u.DisplayName, u.Lang)
		}
		if got := e.role(e.hosp, e.staff); got != auth.RoleStaff {
			t.Fatalf("role changed without a CSRF token: %s", got)
		}
		anon := e.client()
		wantStatus(t, anon.post("/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}}), http.StatusForbidden)
		// With the token of the real page the same request works.
		anon.get("/signin")
		wantStatus(t, anon.post("/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}}), http.StatusSeeOther)
	})
}

func TestSignInFailures(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.client()
		c.get("/signin")
		wrong := c.post("/signin", url.Values{"email": {e.staff.Email}, "password": {"wrong-password-1!"}})
		wantPage(t, wrong, http.StatusUnauthorized, text("auth.signin.failed"))
		unknown := c.post("/signin", url.Values{"email": {"nobody@kitamachi-hp.jp"}, "password": {"wrong-password-1!"}})
		wantPage(t, unknown, http.StatusUnauthorized, text("auth.signin.failed"))
		if strings.Contains(wrong.body, "wrong-password") {
			t.Fatal("the password was echoed back")
		}
		if !strings.Contains(wrong.body, `value="`+e.staff.Email+`"`) {
			t.Fatal("the e-mail address was not kept in the form")
		}
		var last resp
		for range auth.AccountThrottle.Free {
			last = c.post("/signin", url.Values{"email": {e.staff.Email}, "password": {"wrong-password-1!"}})
		}
		wantPage(t, last, http.StatusTooManyRequests, text("auth.signin.locked", 1))
		// Even the right password is refused while locked, with the minutes.
		r := c.post("/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}})
		wantStatus(t, r, http.StatusTooManyRequests)
		if !regexp.MustCompile(`[0-9]+分ほど待って`).MatchString(r.body) {
			t.Fatal("lockout message does not name the minutes")
		}
		if n := e.auditCount(e.hosp.ID, "auth.signin"); n != 0 {
			t.Fatalf("%d successful sign-ins recorded", n)
		}
	})
}

func TestInvitationFlow(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		admin := e.signedIn(e.admin, e.hosp)

		r := admin.post("/org/invites", url.Values{"email": {"not-an-address"}, "role": {"staff"}})
		wantPage(t, r, http.StatusBadRequest, `id="email-err"`)
		r = admin.post("/org/invites", url.Values{"email": {e.staff.Email}, "role": {"staff"}})
		wantStatus(t, r, http.StatusConflict)
		r = admin.post("/org/invites", url.Values{"email": {"new@kitamachi-hp.jp"}, "role": {"owner"}})
		wantStatus(t, r, http.StatusBadRequest)
		if n := len(e.mails("")); n != 0 {
			t.Fatalf("%d mails sent for refused invitations", n)
		}

		r = admin.post("/org/invites", url.Values{"email": {"New@Kitamachi-hp.jp"}, "role": {"staff"}})
		wantStatus(t, r, http.StatusSeeOther)
		ms := e.mailsTo(e.hosp.ID, "new@kitamachi-hp.jp")
		if len(ms) != 1 {
			t.Fatalf("outbox: %+v", e.mails(e.hosp.ID))
		}
		// The organisation's admins hear of it: one notice each.
		if ns := e.mailsTo(e.hosp.ID, e.admin.Email); len(ns) != 1 || !strings.Contains(ns[0].Body, "new@kitamachi-hp.jp") {
			t.Fatalf("admins' notices: %+v", ns)
		}
		if !strings.Contains(ms[0].Body, "北町総合病院") || !strings.Contains(ms[0].Body, "has invited you") {
			t.Fatalf("mail body lacks the organisation or the English part:\n%s", ms[0].Body)
		}
		link := e.linkIn(ms[0].Body, "invite")
		if n := e.auditCount(e.hosp.ID, audit.ActionInvite); n != 1 {
			t.Fatalf("%d invite audit entries", n)
		}
		org := admin.get("/org")
		wantContains(t, org, "new@kitamachi-hp.jp")

		guest := e.client()
		r = guest.get(link)
		wantPage(t, r, http.StatusOK, "北町総合病院")
		r = guest.post(link, url.Values{"display_name": {"新人 太郎"}, "password": {goodPassword}, "password_confirm": {"other"}})
		wantPage(t, r, http.StatusBadRequest, `id="password_confirm-err"`)
		r = guest.post(link, url.Values{"display_name": {"新人 太郎"}, "password": {"password"}, "password_confirm": {"password"}})
		wantPage(t, r, http.StatusBadRequest, `id="password-err"`)
		if _, err := auth.GetUserByEmail(bg, d, "new@kitamachi-hp.jp"); err == nil {
			t.Fatal("user created despite a refused password")
		}
		r = guest.post(link, url.Values{"display_name": {"新人 太郎"}, "password": {goodPassword}, "password_confirm": {goodPassword}})
		wantStatus(t, r, http.StatusSeeOther)
		home := guest.get("/")
		wantPage(t, home, http.StatusOK, "新人 太郎")
		u, err := auth.GetUserByEmail(bg, d, "new@kitamachi-hp.jp")
		if err != nil {
			t.Fatal(err)
		}
		if got := e.role(e.hosp, u); got != auth.RoleStaff {
			t.Fatalf("new member has role %q", got)
		}
		if n := e.auditCount(e.hosp.ID, audit.ActionInviteAccept); n != 1 {
			t.Fatalf("%d accept audit entries", n)
		}

		again := e.client()
		r = again.get(link)
		wantPage(t, r, http.StatusGone, text("auth.link.used"), text("link_error.invite_next"))
		checkPage(t, "used invitation", r)
		r = again.post(link, url.Values{"display_name": {"x"}, "password": {goodPassword}, "password_confirm": {goodPassword}})
		wantStatus(t, r, http.StatusGone)
		wantStatus(t, again.get("/invite/never-issued"), http.StatusNotFound)

		// An existing account joins after signing in.
		wantStatus(t, admin.post("/org/invites", url.Values{"email": {e.other.Email}, "role": {"auditor"}}), http.StatusSeeOther)
		link = e.linkIn(e.mailsTo(e.hosp.ID, e.other.Email)[0].Body, "invite")
		r = e.client().get(link)
		wantPage(t, r, http.StatusOK, "/signin?next=")
		other := e.signedIn(e.other, e.clinic)
		other.get(link)
		wantStatus(t, other.post(link, nil), http.StatusSeeOther)
		if got := e.role(e.hosp, e.other); got != auth.RoleAuditor {
			t.Fatalf("existing account got role %q", got)
		}
		r = other.get("/")
		wantContains(t, r, "北町総合病院")
		wantContains(t, r, `name="org_id"`)

		// Invitations expire.
		wantStatus(t, admin.post("/org/invites", url.Values{"email": {"late@kitamachi-hp.jp"}, "role": {"staff"}}), http.StatusSeeOther)
		link = e.linkIn(e.mailsTo(e.hosp.ID, "late@kitamachi-hp.jp")[0].Body, "invite")
		e.clock.Advance(auth.InviteTTL + time.Minute)
		r = e.client().get(link)
		wantPage(t, r, http.StatusGone, text("auth.link.expired"))
	})
}

func TestPasswordReset(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.client()
		c.get("/reset")
		known := c.post("/reset", url.Values{"email": {e.staff.Email}})
		unknown := c.post("/reset", url.Values{"email": {"nobody@kitamachi-hp.jp"}})
		wantStatus(t, known, http.StatusOK)
		wantStatus(t, unknown, http.StatusOK)
		strip := func(s string) string {
			return csrfMeta.ReplaceAllString(regexp.MustCompile(`name="csrf" value="[^"]*"`).ReplaceAllString(s, ""), "")
		}
		if strip(known.body) != strip(unknown.body) {
			t.Fatal("the answer differs for a registered and an unknown address")
		}
		wantContains(t, known, text("reset.sent"))
		bad := c.post("/reset", url.Values{"email": {"no address"}})
		wantStatus(t, bad, http.StatusBadRequest)
		ms := e.mails("")
		if len(ms) != 1 || ms[0].To != e.staff.Email {
			t.Fatalf("outbox: %+v", ms)
		}
		link := e.linkIn(ms[0].Body, "reset")

		r := c.get(link)
		wantStatus(t, r, http.StatusOK)
		checkPage(t, "reset", r)
		r = c.post(link, url.Values{"password": {"kitamachi-hp2026!"}, "password_confirm": {"kitamachi-hp2026!"}})
		wantPage(t, r, http.StatusBadRequest, text("auth.password.personal"))
		const newPassword = "Wq9!zr-Tamago-83"
		r = c.post(link, url.Values{"password": {newPassword}, "password_confirm": {newPassword}})
		wantStatus(t, r, http.StatusSeeOther)
		if r.loc() != "/signin" {
			t.Fatalf("after reset went to %q", r.loc())
		}
		wantStatus(t, c.get(link), http.StatusGone)
		c.get("/signin")
		wantStatus(t, c.post("/signin", url.Values{"email": {e.staff.Email}, "password": {goodPassword}}), http.StatusUnauthorized)
		wantStatus(t, c.post("/signin", url.Values{"email": {e.staff.Email}, "password": {newPassword}}), http.StatusSeeOther)

		// A link expires after an hour.
		c2 := e.client()
		c2.get("/reset")
		wantStatus(t, c2.post("/reset", url.Values{"email": {e.staff.Email}}), http.StatusOK)
		link = e.linkIn(e.mails("")[0].Body, "reset")
		e.clock.Advance(auth.ResetTTL + time.Second)
		r = c2.get(link)
		wantPage(t, r, http.StatusGone, text("auth.link.expired"), `href="/reset"`)

		// Per address, at most a few mails an hour; the answer stays the same.
		e.clock.Advance(time.Hour)
		before := len(e.mails(""))
		for range resetPerEmail + 2 {
			wantStatus(t, c2.post("/reset", url.Values{"email": {e.auditor.Email}}), http.StatusOK)
		}
		if got := len(e.mails("")) - before; got != resetPerEmail {
			t.Fatalf("%d reset mails sent, want %d", got, resetPerEmail)
		}
	})
}

func TestMemberChangesScoped(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		aud := e.signedIn(e.auditor, e.hosp)
		org := aud.get("/org")
		wantStatus(t, org, http.StatusOK)
		if strings.Contains(org.body, "/role\"") || strings.Contains(org.body, `action="/org/invites"`) || strings.Contains(org.body, `action="/org"`) {
			t.Fatal("auditor sees forms that change the organisation")
		}
		wantStatus(t, aud.post("/org/members/"+e.staff.ID+"/role", url.Values{"role": {"admin"}}), http.StatusForbidden)
		wantStatus(t, aud.post("/org/members/"+e.staff.ID+"/delete", nil), http.StatusForbidden)
		wantStatus(t, aud.post("/org/invites", url.Values{"email": {"x@kitamachi-hp.jp"}, "role": {"admin"}}), http.StatusForbidden)
		staff := e.signedIn(e.staff, e.hosp)
		wantStatus(t, staff.post("/org/members/"+e.staff.ID+"/role", url.Values{"role": {"admin"}}), http.StatusForbidden)

		other := e.signedIn(e.other, e.clinic)
		wantStatus(t, other.post("/org/members/"+e.staff.ID+"/role", url.Values{"role": {"admin"}}), http.StatusNotFound)
		wantStatus(t, other.post("/org/members/"+e.staff.ID+"/delete", nil), http.StatusNotFound)
		wantStatus(t, other.get("/admin/orgs/"+e.hosp.ID), http.StatusNotFound)
		if got := e.role(e.hosp, e.staff); got != auth.RoleStaff {
			t.Fatalf("staff role changed to %q", got)
		}

		admin := e.signedIn(e.admin, e.hosp)
		r := admin.post("/org/members/"+e.admin.ID+"/role", url.Values{"role": {"staff"}})
		wantPage(t, r, http.StatusConflict, text("auth.member.last_admin"))
		wantStatus(t, admin.post("/org/members/"+e.staff.ID+"/role", url.Values{"role": {"auditor"}}), http.StatusSeeOther)
		if got := e.role(e.hosp, e.staff); got != auth.RoleAuditor {
			t.Fatalf("role is %q after the change", got)
		}
		es, err := e.audit.List(bg, e.hosp.ID, audit.Filter{ActionPrefix: audit.ActionMemberRole})
		if err != nil || len(es) != 1 || es[0].ObjectID != e.staff.ID || es[0].ActorID != e.admin.ID {
			t.Fatalf("audit entries %+v, %v", es, err)
		}
		wantStatus(t, admin.post("/org/members/"+e.staff.ID+"/delete", nil), http.StatusSeeOther)
		if got := e.role(e.hosp, e.staff); got != "" {
			t.Fatalf("removed member still has role %q", got)
		}
	})
}

func TestOrgAndOperatorForms(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		admin := e.signedIn(e.admin, e.hosp)
		r := admin.post("/org", url.Values{"name": {"北町総合病院"}, "name_kana": {"Kitamachi!"}, "mfa_policy": {"admins"}})
		wantPage(t, r, http.StatusBadRequest, `id="name_kana-err"`, `value="Kitamachi!"`)
		// A forged kind is refused as a whole: the field is named and
		// nothing changes.
		r = admin.post("/org", url.Values{"name": {"北町総合病院"}, "name_kana": {"キタマチ"}, "medical_code": {"１３１２３４５"}, "beds": {"２００"},
			"prefecture": {"東京都"}, "mfa_policy": {"everyone"}, "kind": {"isac"}})
		wantPage(t, r, http.StatusForbidden, html.EscapeString(text("auth.org.field_forbidden", "kind")))
		if o, _ := auth.GetOrg(bg, d, &auth.Principal{OrgID: e.hosp.ID}, e.hosp.ID); o.Kind != auth.KindHospital || o.MFAPolicy != auth.MFAAdmins {
			t.Fatalf("a refused change changed %+v", o)
		}
		r = admin.post("/org", url.Values{"name": {"北町総合病院"}, "name_kana": {"キタマチ"}, "medical_code": {"１３１２３４５"}, "beds": {"２００"},
			"prefecture": {"東京都"}, "mfa_policy": {"everyone"}})
		wantStatus(t, r, http.StatusSeeOther)
		o, err := auth.GetOrg(bg, d, &auth.Principal{OrgID: e.hosp.ID}, e.hosp.ID)
		if err != nil {
			t.Fatal(err)
		}
		if o.Kind != auth.KindHospital || o.MedicalCode != "1312345" || o.Beds == nil || *o.Beds != 200 || o.MFAPolicy != auth.MFAEveryone {
			t.Fatalf("org after update: %+v", o)
		}

		oper := e.signedIn(e.oper, e.isac)
		r = oper.post("/admin/orgs", url.Values{"kind": {"clinic"}, "name": {""}})
		wantStatus(t, r, http.StatusBadRequest)
		r = oper.post("/admin/orgs", url.Values{"kind": {"clinic"}, "name": {"東町診療所"}, "name_kana": {"ヒガシマチシンリョウジョ"},
			"prefecture": {"京都府"}, "mfa_policy": {"admins"}, "email": {"boss@higashi.example.jp"}})
		wantStatus(t, r, http.StatusSeeOther)
		page := oper.get(r.loc())
		wantPage(t, page, http.StatusOK, "東町診療所")
		if len(e.mails("")) != 1 {
			t.Fatal("no invitation for the first admin")
		}
		list := oper.get("/admin/orgs?kind=clinic")
		wantContains(t, list, "東町診療所")
		if strings.Contains(list.body, "北町総合病院") {
			t.Fatal("kind filter ignored")
		}
		// Operators never see a member organisation's people.
		hosp := oper.get("/admin/orgs/" + e.hosp.ID)
		if strings.Contains(hosp.body, e.staff.Email) || strings.Contains(hosp.body, e.staff.DisplayName) {
			t.Fatal("operator page shows the organisation's members")
		}
	})
}

func TestAccountForms(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		c := e.signedIn(e.staff, e.hosp)
		r := c.post("/account/password", url.Values{"current_password": {"nope"}, "password": {"Zz9!long-enough"}, "password_confirm": {"Zz9!long-enough"}})
		wantPage(t, r, http.StatusBadRequest, `id="current_password-err"`)
		r = c.post("/account/password", url.Values{"current_password": {goodPassword}, "password": {"abc"}, "password_confirm": {"abc"}})
		wantPage(t, r, http.StatusBadRequest, text("auth.password.too_short", auth.MinPasswordLength, auth.LongPasswordLength))
		wantStatus(t, c.post("/account/password", url.Values{"current_password": {goodPassword}, "password": {"Zz9!long-enough"}, "password_confirm": {"Zz9!long-enough"}}), http.StatusSeeOther)

		r = c.post("/account/tokens", url.Values{"name": {"script"}, "expires_at": {"2020-01-01"}})
		wantPage(t, r, http.StatusBadRequest, `id="expires_at-err"`)
		r = c.post("/account/tokens", url.Values{"name": {"script"}, "expires_at": {"2026-05-01"}, "scope": {"write"}})
		wantStatus(t, r, http.StatusOK)
		tok := regexp.MustCompile(`value="(` + auth.TokenPrefix + `[^"]+)"`).FindStringSubmatch(r.body)
		if tok == nil {
			t.Fatal("new token not shown")
		}
		p, err := auth.PrincipalForToken(bg, d, tok[1], e.clock.Now())
		if err != nil || !p.TokenWrite {
			t.Fatalf("token does not work: %v", err)
		}
		again := c.get("/account")
		if strings.Contains(again.body, tok[1]) {
			t.Fatal("token shown a second time")
		}
		wantStatus(t, c.post("/account/tokens/"+p.TokenID+"/delete", nil), http.StatusSeeOther)
		if _, err := auth.PrincipalForToken(bg, d, tok[1], e.clock.Now()); err == nil {
			t.Fatal("revoked token still works")
		}

		aud := e.signedIn(e.auditor, e.hosp)
		r = aud.post("/account/tokens", url.Values{"name": {"read"}, "expires_at": {"2026-05-01"}, "scope": {"write"}})
		wantPage(t, r, http.StatusBadRequest, `id="scope-err"`)

		wantStatus(t, c.post("/account/profile", url.Values{"display_name": {"北町 次郎"}, "lang": {"fr"}}), http.StatusBadRequest)
		wantStatus(t, c.post("/lang", url.Values{"lang": {"en"}, "next": {"/account/tokens"}}), http.StatusSeeOther)
		r = c.get("/account")
		if !strings.Contains(r.body, `<html lang="en">`) {
			t.Fatal("language switch not stored")
		}
		anon := e.client()
		anon.get("/signin")
		r = anon.post("/lang", url.Values{"lang": {"en"}, "next": {"//evil.example/"}})
		wantStatus(t, r, http.StatusSeeOther)
		if r.loc() != "/" {
			t.Fatalf("language switch redirects to %q", r.loc())
		}
		if r := anon.get("/signin"); !strings.Contains(r.body, `<html lang="en">`) {
			t.Fatal("language cookie ignored")
		}
	})
}

func TestOrgSwitchAndAuditExport(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		if err := auth.AddMember(bg, d, e.clinic.ID, e.staff.ID, auth.RoleStaff, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		c := e.signedIn(e.staff, e.hosp)
		wantStatus(t, c.post("/org/switch", url.Values{"org_id": {e.isac.ID}}), http.StatusNotFound)
		wantStatus(t, c.post("/org/switch", url.Values{"org_id": {e.clinic.ID}}), http.StatusSeeOther)
		wantContains(t, c.get("/"), "南町クリニック")

		admin := e.signedIn(e.admin, e.hosp)
		wantStatus(t, admin.get("/audit?action=auth"), http.StatusOK)
		r := admin.get("/audit.csv?outcome=success")
		wantStatus(t, r, http.StatusOK)
		if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(r.body, "\uFEFF") {
			t.Fatalf("export: %q", r.header.Get("Content-Type"))
		}
		if e.auditCount(e.hosp.ID, audit.ActionAuditRead) != 1 || e.auditCount(e.hosp.ID, audit.ActionAuditExport) != 1 {
			t.Fatal("audit log reads not recorded")
		}
		wantStatus(t, e.signedIn(e.staff, e.hosp).get("/audit.csv"), http.StatusForbidden)
	})
}

// TestAuditorRevokesOwnToken: the account page offers everyone the revoke
// button, auditors included, and it works for their own tokens only.
func TestAuditorRevokesOwnToken(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		aud := e.signedIn(e.auditor, e.hosp)
		r := aud.post("/account/tokens", url.Values{"name": {"read"}, "expires_at": {"2026-05-01"}, "scope": {"read"}})
		wantStatus(t, r, http.StatusOK)
		tok := regexp.MustCompile(`value="(` + auth.TokenPrefix + `[^"]+)"`).FindStringSubmatch(r.body)
		if tok == nil {
			t.Fatal("new token not shown")
		}
		p, err := auth.PrincipalForToken(bg, d, tok[1], e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		page := aud.get("/account")
		wantContains(t, page, "/account/tokens/"+p.TokenID+"/delete")
		// Another person's token looks missing, and stays.
		_, other, err := auth.CreateToken(bg, d, e.staff.ID, e.hosp.ID, "staff", true, nil, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, aud.post("/account/tokens/"+other.ID+"/delete", nil), http.StatusNotFound)
		if ts, err := auth.ListTokens(bg, d, e.staff.ID); err != nil || len(ts) != 1 {
			t.Fatalf("the staff's token: %v %v", ts, err)
		}
		wantStatus(t, aud.post("/account/tokens/"+p.TokenID+"/delete", nil), http.StatusSeeOther)
		if _, err := auth.PrincipalForToken(bg, d, tok[1], e.clock.Now()); err == nil {
			t.Fatal("the auditor's revoked token still works")
		}
		var n int
		if err := d.QueryRow(bg, `SELECT COUNT(*) FROM audit_log WHERE action = ? AND object_id = ? AND actor_id = ?`,
			"auth.token.revoke", p.TokenID, e.auditor.ID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("revoke entries: %d %v", n, err)
		}
	})
}

// wantPage checks r's status and that its body holds each of parts.
func wantPage(t *testing.T, r resp, status int, parts ...string) {
	t.Helper()
	wantStatus(t, r, status)
	for _, p := range parts {
		wantContains(t, r, p)
	}
}
