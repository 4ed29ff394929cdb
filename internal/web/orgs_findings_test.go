package web

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

func (e *env) orgNow(id string) *auth.Org {
	e.t.Helper()
	o, err := auth.GetOrg(bg, e.d, &auth.Principal{OrgID: id}, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

// orgForm is the operator's edit form of o, as the page would post it.
func orgForm(o *auth.Org) url.Values {
	return url.Values{"kind": {string(o.Kind)}, "name": {o.Name}, "name_kana": {o.NameKana}, "prefecture": {o.Prefecture}, "medical_code": {o.MedicalCode}}
}

// TestWebOrgFieldsByRule: the web forms give the same answers as the API:
// ISAC staff change nothing, ISAC admins change kind and record but not the
// MFA policy, a refused change is refused as a whole.
func TestWebOrgFieldsByRule(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		opStaff := e.signedIn(e.mustUser("staff@isac.example.jp", "事務局 職員", e.isac, auth.RoleStaff), e.isac)
		oper := e.signedIn(e.oper, e.isac)
		path := "/admin/orgs/" + e.clinic.ID
		before := e.orgNow(e.clinic.ID)

		page := opStaff.get(path)
		wantStatus(t, page, http.StatusOK)
		if strings.Contains(page.body, `action="`+path+`"`) || strings.Contains(page.body, `action="`+path+`/invites"`) {
			t.Fatal("ISAC staff see the edit or invitation form")
		}
		forged := orgForm(before)
		forged.Set("kind", "isac")
		r := opStaff.post(path, forged)
		wantStatus(t, r, http.StatusForbidden)
		wantContains(t, r, html.EscapeString(text("auth.org.field_forbidden", "kind")))
		renamed := orgForm(before)
		renamed.Set("name", "乗っ取り")
		wantStatus(t, opStaff.post(path, renamed), http.StatusForbidden)
		wantStatus(t, opStaff.post(path+"/invites", url.Values{"email": {"x@isac.example.jp"}}), http.StatusForbidden)

		// The operator admin's form has no MFA field; a forged one is
		// refused with the record change it came with.
		page = oper.get(path)
		if strings.Contains(page.body, `name="mfa_policy"`) || !strings.Contains(page.body, `name="kind"`) {
			t.Fatal("the operator's form offers the MFA policy or hides the kind")
		}
		withMFA := orgForm(before)
		withMFA.Set("beds", "12")
		withMFA.Set("mfa_policy", "everyone")
		r = oper.post(path, withMFA)
		wantStatus(t, r, http.StatusForbidden)
		if after := e.orgNow(e.clinic.ID); *after != *before {
			t.Fatalf("refused changes changed the clinic: %+v", after)
		}

		// The operator admin makes the clinic an operator: one entry in its
		// log and its copy in the operator's, mails to both organisations'
		// admins.
		toISAC := orgForm(before)
		toISAC.Set("kind", "isac")
		wantStatus(t, oper.post(path, toISAC), http.StatusSeeOther)
		if o := e.orgNow(e.clinic.ID); o.Kind != auth.KindISAC {
			t.Fatalf("kind %s", o.Kind)
		}
		if n := e.auditCount(e.clinic.ID, audit.ActionOrgKind); n != 1 {
			t.Fatalf("%d kind entries in the clinic's log", n)
		}
		if n := e.auditCount(e.isac.ID, audit.ActionOrgKind); n != 1 {
			t.Fatalf("%d kind entries in the operator's log", n)
		}
		// One notice each: the change of kind alone is told by the
		// operator notice, not a second mail listing the same field.
		for _, to := range []struct {
			org, addr string
			n         int
		}{{e.clinic.ID, e.other.Email, 1}, {e.isac.ID, e.oper.Email, 1}} {
			if ms := e.mailsTo(to.org, to.addr); len(ms) != to.n || !strings.Contains(ms[0].Body, "南町クリニック") {
				t.Errorf("notice to %s: %+v", to.addr, ms)
			}
		}
		// The last operators keep their kind, one at a time.
		back := orgForm(e.orgNow(e.isac.ID))
		back.Set("kind", "hospital")
		wantStatus(t, oper.post("/admin/orgs/"+e.isac.ID, back), http.StatusSeeOther)
		back = orgForm(e.orgNow(e.clinic.ID))
		back.Set("kind", "clinic")
		other := e.signedIn(e.other, e.clinic)
		r = other.post("/admin/orgs/"+e.clinic.ID, back)
		wantStatus(t, r, http.StatusConflict)
		wantContains(t, r, html.EscapeString(text("auth.org.last_operator")))
	})
}

// TestWebOperatorProposal: an operator admin's invitation into an
// organisation that has admins is a proposal; the organisation's admin
// sees it on the members page and accepts or declines; an organisation
// without an admin gets its first admin's invitation at once.
func TestWebOperatorProposal(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		oper := e.signedIn(e.oper, e.isac)
		page := oper.get("/admin/orgs/" + e.hosp.ID)
		wantContains(t, page, html.EscapeString(text("admin.org.propose_hint")))
		r := oper.post("/admin/orgs/"+e.hosp.ID+"/invites", url.Values{"email": {"mole@isac.example.jp"}})
		wantStatus(t, r, http.StatusSeeOther)
		if ms := e.mailsTo(e.hosp.ID, "mole@isac.example.jp"); len(ms) != 0 {
			t.Fatal("the invitee was mailed before consent")
		}
		notice := e.mailsTo(e.hosp.ID, e.admin.Email)
		if len(notice) != 1 || !strings.Contains(notice[0].Body, "mole@isac.example.jp") || !strings.Contains(notice[0].Body, e.ts.URL+"/org#proposals") {
			t.Fatalf("admin's notice: %+v", notice)
		}
		if n := e.auditCount(e.hosp.ID, audit.ActionProposal); n != 1 {
			t.Fatalf("%d proposal entries", n)
		}

		// Staff see no proposals; the admin does, and accepts.
		staff := e.signedIn(e.staff, e.hosp)
		if strings.Contains(staff.get("/org").body, "mole@isac.example.jp") {
			t.Fatal("staff see the proposal")
		}
		admin := e.signedIn(e.admin, e.hosp)
		org := admin.get("/org")
		wantContains(t, org, "mole@isac.example.jp")
		m := regexp.MustCompile(`/org/proposals/([0-9a-f-]+)/accept`).FindStringSubmatch(org.body)
		if m == nil {
			t.Fatal("no accept button")
		}
		id := m[1]
		wantStatus(t, staff.post("/org/proposals/"+id+"/accept", nil), http.StatusForbidden)
		// An operator cannot answer for the organisation: its own
		// organisation has no such proposal.
		wantStatus(t, oper.post("/org/proposals/"+id+"/accept", nil), http.StatusNotFound)
		wantStatus(t, admin.post("/org/proposals/"+id+"/accept", nil), http.StatusSeeOther)
		ms := e.mailsTo(e.hosp.ID, "mole@isac.example.jp")
		if len(ms) != 1 {
			t.Fatalf("invitation after consent: %d mails", len(ms))
		}
		e.linkIn(ms[0].Body, "invite")
		wantStatus(t, admin.post("/org/proposals/"+id+"/decline", nil), http.StatusNotFound)
		if n := e.auditCount(e.hosp.ID, audit.ActionProposalAccept); n != 1 {
			t.Fatalf("%d accept entries", n)
		}

		// A declined proposal sends nothing to the invitee.
		wantStatus(t, oper.post("/admin/orgs/"+e.hosp.ID+"/invites", url.Values{"email": {"second@isac.example.jp"}}), http.StatusSeeOther)
		m = regexp.MustCompile(`/org/proposals/([0-9a-f-]+)/decline`).FindStringSubmatch(admin.get("/org").body)
		if m == nil {
			t.Fatal("no decline button")
		}
		wantStatus(t, admin.post("/org/proposals/"+m[1]+"/decline", nil), http.StatusSeeOther)
		if ms := e.mailsTo(e.hosp.ID, "second@isac.example.jp"); len(ms) != 0 {
			t.Fatal("a declined invitee was mailed")
		}

		// A new organisation: its first admin is invited at once, and the
		// invitee is the only one mailed.
		r = oper.post("/admin/orgs", url.Values{"kind": {"pharmacy"}, "name": {"西町薬局"}, "email": {"head@nishi.example.jp"}})
		wantStatus(t, r, http.StatusSeeOther)
		newID := strings.TrimPrefix(r.loc(), "/admin/orgs/")
		all := e.mails(newID)
		if len(all) != 1 || all[0].To != "head@nishi.example.jp" {
			t.Fatalf("mail about the new organisation: %+v", all)
		}
		es, err := e.audit.List(bg, newID, audit.Filter{ActionPrefix: audit.ActionOrgCreate, Limit: 10})
		if err != nil || len(es) != 1 || es[0].ObjectType != "org" {
			t.Fatalf("create entries: %+v %v", es, err)
		}
	})
}

// TestWebMembershipNotices: role changes, removals and revoked invitations
// made on the members page are mailed to the admins, one mail each.
func TestWebMembershipNotices(t *testing.T) {
	eachEnv(t, func(t *testing.T, d *db.DB, e *env) {
		second := e.mustUser("second@kitamachi-hp.jp", "北町 六子", e.hosp, auth.RoleAdmin)
		admin := e.signedIn(e.admin, e.hosp)
		count := func() int { return len(e.mailsTo(e.hosp.ID, second.Email)) }
		n := count()
		wantStatus(t, admin.post("/org/invites", url.Values{"email": {"n1@kitamachi-hp.jp"}, "role": {"staff"}}), http.StatusSeeOther)
		wantStatus(t, admin.post("/org/invites/revoke", url.Values{"email": {"n1@kitamachi-hp.jp"}}), http.StatusSeeOther)
		wantStatus(t, admin.post("/org/invites/revoke", url.Values{"email": {"n1@kitamachi-hp.jp"}}), http.StatusNotFound)
		wantStatus(t, admin.post("/org/members/"+e.staff.ID+"/role", url.Values{"role": {"auditor"}}), http.StatusSeeOther)
		wantStatus(t, admin.post("/org/members/"+e.staff.ID+"/delete", nil), http.StatusSeeOther)
		if got := count() - n; got != 4 {
			t.Fatalf("the other admin got %d notices, want 4", got)
		}
		if n := e.auditCount(e.hosp.ID, audit.ActionInviteRevoke); n != 1 {
			t.Fatalf("%d revoke entries", n)
		}
		ms := e.mailsTo(e.hosp.ID, "n1@kitamachi-hp.jp")
		if len(ms) != 1 {
			t.Fatalf("%d invitation mails", len(ms))
		}
		r := e.client().get(e.linkIn(ms[0].Body, "invite"))
		wantStatus(t, r, http.StatusGone)

		// A member who joins by invitation is announced too.
		wantStatus(t, admin.post("/org/invites", url.Values{"email": {"n2@kitamachi-hp.jp"}, "role": {"staff"}}), http.StatusSeeOther)
		link := e.linkIn(e.mailsTo(e.hosp.ID, "n2@kitamachi-hp.jp")[0].Body, "invite")
		before := count()
		guest := e.client()
		wantStatus(t, guest.get(link), http.StatusOK)
		wantStatus(t, guest.post(link, url.Values{"display_name": {"新人 七子"}, "password": {goodPassword}, "password_confirm": {goodPassword}}), http.StatusSeeOther)
		if got := e.mailsTo(e.hosp.ID, second.Email); len(got) != before+1 || !strings.Contains(got[0].Body, "新人 七子") {
			t.Fatalf("join notice: %d mails", len(got)-before)
		}
	})
}
