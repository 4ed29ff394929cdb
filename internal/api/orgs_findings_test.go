package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/notify"
)

// addPerson adds a person with a read-write token to org, named by the
// local part of their address.
func (f *fixture) addPerson(t *testing.T, org *auth.Org, email string, role auth.Role) person {
	t.Helper()
	return f.addNamedPerson(t, org, email, strings.Split(email, "@")[0], role)
}

// addNamedPerson adds a person called name with a read-write token to org.
func (f *fixture) addNamedPerson(t *testing.T, org *auth.Org, email, name string, role auth.Role) person {
	t.Helper()
	ctx := context.Background()
	u, err := auth.CreateUser(ctx, f.d, auth.NewUser{Email: email, DisplayName: name, Lang: "ja"}, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.AddMember(ctx, f.d, org.ID, u.ID, role, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	p := person{user: u, orgID: org.ID}
	var tok *auth.APIToken
	if p.write, tok, err = auth.CreateToken(ctx, f.d, u.ID, org.ID, "rw", true, nil, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	p.writeID = tok.ID
	return p
}

// mailsTo returns the outbox of org addressed to addr.
func (f *fixture) mailsTo(t *testing.T, org, addr string) []notify.Stored {
	t.Helper()
	ms, err := f.mailer.Outbox(context.Background(), org, 500)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(ms, func(m notify.Stored) bool { return m.To != addr })
}

// entries returns org's audit entries of action about objectID.
func (f *fixture) entries(t *testing.T, org, action, objectID string) []audit.Entry {
	t.Helper()
	es, err := f.log.List(context.Background(), org, audit.Filter{ActionPrefix: action, ObjectID: objectID, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	// ActionPrefix also matches longer actions; keep only this one.
	return slices.DeleteFunc(es, func(e audit.Entry) bool { return e.Action != action })
}

func (f *fixture) org(t *testing.T, id string) *auth.Org {
	t.Helper()
	o, err := auth.GetOrg(context.Background(), f.d, &auth.Principal{OrgID: id}, id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestOperatorStaffCannotChangeOrgs: ISAC staff made any organisation an
// ISAC operator (and renamed organisations, changed their MFA policy)
// through the API. Now each field has its rule, a request touching a field
// the caller may not change is refused as a whole, naming the field, and
// nothing changes.
func TestOperatorStaffCannotChangeOrgs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		opStaff := f.addPerson(t, f.isac, "staff@isac.example.jp", auth.RoleStaff)
		b := "/api/v1/orgs/" + f.orgB.ID
		before := f.org(t, f.orgB.ID)
		refused := []struct {
			who, token, body, field string
		}{
			{"ISAC staff", opStaff.write, `{"kind":"isac"}`, "kind"},
			{"ISAC staff", opStaff.write, `{"name":"乗っ取りクリニック"}`, "name"},
			{"ISAC staff", opStaff.write, `{"mfa_policy":"everyone"}`, "mfa_policy"},
			{"ISAC admin", f.op.write, `{"mfa_policy":"everyone"}`, "mfa_policy"},
			{"ISAC admin", f.op.write, `{"beds":40,"mfa_policy":"everyone"}`, "mfa_policy"},
			{"B's admin", f.adminB.write, `{"kind":"isac"}`, "kind"},
			{"B's admin", f.adminB.write, `{"name":"Bクリニック（新）","kind":"hospital"}`, "kind"},
			{"B's staff", f.staffB.write, `{"name":"Bクリニック（新）"}`, "name"},
		}
		for _, c := range refused {
			rec := f.do(t, "PATCH", b, c.token, c.body)
			e := apiError(t, rec)
			if rec.Code != http.StatusForbidden || e.Field != c.field {
				t.Errorf("%s PATCH %s: %d %+v, want 403 on %q", c.who, c.body, rec.Code, e, c.field)
			}
		}
		if after := f.org(t, f.orgB.ID); *after != *before {
			t.Fatalf("refused changes changed B:\n%+v\n%+v", before, after)
		}
		if es := f.entries(t, f.orgB.ID, audit.ActionOrgUpdate, f.orgB.ID); len(es) != 0 {
			t.Fatalf("refused changes recorded as updates: %+v", es)
		}

		// B's own admin changes B's record and MFA policy; an operator admin
		// its record and kind.
		if rec := f.do(t, "PATCH", b, f.adminB.write, `{"name":"Bクリニック（新）","mfa_policy":"everyone"}`); rec.Code != 200 {
			t.Fatalf("B's admin: %d %s", rec.Code, rec.Body)
		}
		if rec := f.do(t, "PATCH", b, f.op.write, `{"beds":19}`); rec.Code != 200 {
			t.Fatalf("operator on B's beds: %d %s", rec.Code, rec.Body)
		}
		// One entry per change, in B's log, object "org"; the operator's
		// change has its copy in the operator's own log, as through the web.
		es := f.entries(t, f.orgB.ID, audit.ActionOrgUpdate, f.orgB.ID)
		if len(es) != 2 || es[0].ObjectType != "org" || es[1].ObjectType != "org" {
			t.Fatalf("B's update entries: %+v", es)
		}
		if es := f.entries(t, f.isac.ID, audit.ActionOrgUpdate, f.orgB.ID); len(es) != 1 {
			t.Fatalf("the operator's copy of its update: %+v", es)
		}

		// The last ISAC operator keeps its kind.
		rec := f.do(t, "PATCH", "/api/v1/orgs/"+f.isac.ID, f.op.write, `{"kind":"hospital"}`)
		if e := apiError(t, rec); rec.Code != http.StatusConflict || e.Field != "kind" {
			t.Fatalf("last operator's kind: %d %+v", rec.Code, e)
		}
	})
}

// TestMakingAnOperator: only an ISAC admin makes an organisation an
// operator; the change stands out in the log and is mailed to the admins
// of both organisations; the new operator still cannot take over a member
// organisation (its invitation is only a proposal).
func TestMakingAnOperator(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		rec := f.do(t, "PATCH", "/api/v1/orgs/"+f.orgB.ID, f.op.write, `{"kind":"isac"}`)
		if rec.Code != 200 {
			t.Fatalf("operator admin makes B an operator: %d %s", rec.Code, rec.Body)
		}
		es := f.entries(t, f.orgB.ID, audit.ActionOrgKind, f.orgB.ID)
		if len(es) != 1 || es[0].Details["operator"] != true || es[0].ObjectType != "org" {
			t.Fatalf("kind change entries: %+v", es)
		}
		for _, to := range []struct{ org, addr string }{{f.orgB.ID, f.adminB.user.Email}, {f.isac.ID, f.op.user.Email}} {
			ms := f.mailsTo(t, to.org, to.addr)
			if len(ms) != 1 || !strings.Contains(ms[0].Subject, "ISAC") || !strings.Contains(ms[0].Body, f.orgB.Name) {
				t.Errorf("notice to %s: %+v", to.addr, ms)
			}
		}
		if ms := f.mailsTo(t, f.orgB.ID, f.staffB.user.Email); len(ms) != 0 {
			t.Errorf("B's staff got the admins' notice")
		}

		// B's admin, now acting for an operator, invites itself as admin of
		// A: a proposal that A's admins must accept; nothing reaches B's
		// admin, and A's members are untouched.
		rec = f.do(t, "POST", "/api/v1/orgs/"+f.orgA.ID+"/invitations", f.adminB.write, `{"email":"admin@b.example.jp","role":"admin"}`)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("new operator invites itself into A: %d %s", rec.Code, rec.Body)
		}
		if ms := f.mailsTo(t, f.orgA.ID, "admin@b.example.jp"); len(ms) != 0 {
			t.Fatalf("the invitee was mailed before A's consent: %+v", ms)
		}
		// Nor can it change A's members or its MFA policy.
		if rec := f.do(t, "PATCH", "/api/v1/orgs/"+f.orgA.ID+"/members/"+f.staffA.user.ID, f.adminB.write, `{"role":"admin"}`); rec.Code != 404 {
			t.Fatalf("new operator changes A's roles: %d", rec.Code)
		}
		if rec := f.do(t, "PATCH", "/api/v1/orgs/"+f.orgA.ID, f.adminB.write, `{"mfa_policy":"everyone"}`); rec.Code != 403 {
			t.Fatalf("new operator changes A's MFA policy: %d", rec.Code)
		}
	})
}

// TestOperatorProposals: an operator's invitation into an organisation
// that has admins waits for their consent; its admins are mailed, accept
// or decline; an organisation without an active admin gets its first
// admin's invitation at once.
func TestOperatorProposals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		a := "/api/v1/orgs/" + f.orgA.ID
		rec := f.do(t, "POST", a+"/invitations", f.op.write, `{"email":"mole@isac.example.jp","role":"admin"}`)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("proposal: %d %s", rec.Code, rec.Body)
		}
		pr := decodeBody[proposalCreated](t, rec).Proposal
		if pr.Status != auth.ProposalPending || pr.Email != "mole@isac.example.jp" || pr.Role != auth.RoleAdmin {
			t.Fatalf("proposal %+v", pr)
		}
		if ms := f.mailsTo(t, f.orgA.ID, "mole@isac.example.jp"); len(ms) != 0 {
			t.Fatal("the invitee was mailed before consent")
		}
		notice := f.mailsTo(t, f.orgA.ID, f.adminA.user.Email)
		if len(notice) != 3 { // the fixture's invitation and proposal, and this one
			t.Fatalf("A's admin got %d notices", len(notice))
		}
		body := notice[0].Body
		for _, want := range []string{"mole@isac.example.jp", "op@isac.example.jp", "管理者", "承諾", "Accept", "https://medisac.example.jp/org#proposals"} {
			if !strings.Contains(body, want) {
				t.Errorf("proposal notice lacks %q:\n%s", want, body)
			}
		}
		// Pending: no invitation yet; listed for A's admins only.
		invs := decodeBody[invitationList](t, f.do(t, "GET", a+"/invitations", f.adminA.read, ""))
		for _, i := range invs.Invitations {
			if i.Email == "mole@isac.example.jp" {
				t.Fatal("a proposal is already an invitation")
			}
		}
		if ps := decodeBody[proposalList](t, f.do(t, "GET", a+"/proposals", f.adminA.read, "")); len(ps.Proposals) != 2 {
			t.Fatalf("A's proposals: %+v", ps)
		}
		for name, tok := range map[string]string{"operator": f.op.write, "B's admin": f.adminB.write} {
			if rec := f.do(t, "GET", a+"/proposals", tok, ""); rec.Code != 404 {
				t.Errorf("%s lists A's proposals: %d", name, rec.Code)
			}
			if rec := f.do(t, "POST", a+"/proposals/"+pr.ID+"/accept", tok, ""); rec.Code != 404 {
				t.Errorf("%s accepts A's proposal: %d", name, rec.Code)
			}
		}
		for name, tok := range map[string]string{"staff": f.staffA.write, "auditor": f.auditorA.write, "read-only": f.adminA.read} {
			if rec := f.do(t, "POST", a+"/proposals/"+pr.ID+"/accept", tok, ""); rec.Code != 403 {
				t.Errorf("A's %s accepts: %d", name, rec.Code)
			}
		}
		if rec := f.do(t, "POST", a+"/proposals/"+pr.ID+"/accept", f.adminA.write, `{"x":1}`); rec.Code != 400 {
			t.Errorf("accept with a body: %d", rec.Code)
		}

		// A's admin accepts: the invitation goes out now.
		rec = f.do(t, "POST", a+"/proposals/"+pr.ID+"/accept", f.adminA.write, "")
		if rec.Code != 200 {
			t.Fatalf("accept: %d %s", rec.Code, rec.Body)
		}
		ans := decodeBody[proposalAnswered](t, rec)
		if ans.Proposal.Status != auth.ProposalAccepted || ans.Invitation == nil || ans.Invitation.Role != auth.RoleAdmin {
			t.Fatalf("answer %+v", ans)
		}
		if ms := f.mailsTo(t, f.orgA.ID, "mole@isac.example.jp"); len(ms) != 1 || !strings.Contains(ms[0].Body, "/invite/") {
			t.Fatalf("invitation after consent: %+v", ms)
		}
		if rec := f.do(t, "POST", a+"/proposals/"+pr.ID+"/decline", f.adminA.write, ""); rec.Code != 404 {
			t.Fatalf("answering twice: %d", rec.Code)
		}
		if n := len(f.entries(t, f.orgA.ID, audit.ActionProposalAccept, pr.ID)); n != 1 {
			t.Fatalf("%d accept entries", n)
		}

		// The fixture's proposal is declined: nothing to the invitee.
		rec = f.do(t, "POST", a+"/proposals/"+f.proposalA+"/decline", f.adminA.write, "{}")
		if rec.Code != 200 || decodeBody[proposalAnswered](t, rec).Invitation != nil {
			t.Fatalf("decline: %d %s", rec.Code, rec.Body)
		}
		if ms := f.mailsTo(t, f.orgA.ID, "proposed@a.example.jp"); len(ms) != 0 {
			t.Fatal("a declined invitee was mailed")
		}
		if n := len(f.mailsTo(t, f.orgA.ID, f.adminA.user.Email)); n != 5 {
			t.Fatalf("A's admin got %d notices, want 5 (an invitation, two proposals, two answers)", n)
		}

		// An organisation with no admin gets its first admin's invitation
		// at once, mailed to nobody but the invitee; only as admin.
		rec = f.do(t, "POST", "/api/v1/orgs", f.op.write, `{"kind":"pharmacy","name":"C薬局"}`)
		c := decodeBody[orgCreated](t, rec).Org
		rec = f.do(t, "POST", "/api/v1/orgs/"+c.ID+"/invitations", f.op.write, `{"email":"head@c.example.jp","role":"staff"}`)
		if e := apiError(t, rec); rec.Code != 400 || e.Field != "role" {
			t.Fatalf("first member as staff: %d %+v", rec.Code, e)
		}
		rec = f.do(t, "POST", "/api/v1/orgs/"+c.ID+"/invitations", f.op.write, `{"email":"head@c.example.jp","role":"admin"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("first admin: %d %s", rec.Code, rec.Body)
		}
		ms, err := f.mailer.Outbox(context.Background(), c.ID, 10)
		if err != nil || len(ms) != 1 || ms[0].To != "head@c.example.jp" {
			t.Fatalf("mail about a new organisation: %+v %v", ms, err)
		}
		// ISAC staff may neither invite nor propose.
		opStaff := f.addPerson(t, f.isac, "staff@isac.example.jp", auth.RoleStaff)
		for _, org := range []string{f.orgA.ID, c.ID} {
			if rec := f.do(t, "POST", "/api/v1/orgs/"+org+"/invitations", opStaff.write, `{"email":"x@isac.example.jp","role":"admin"}`); rec.Code != 403 {
				t.Errorf("ISAC staff invites: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

// TestMembershipChangesMailed: every membership change is mailed to the
// organisation's admins, one mail each, besides one audit entry.
func TestMembershipChangesMailed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		admin2 := f.addPerson(t, f.orgA, "second@a.example.jp", auth.RoleAdmin)
		a := "/api/v1/orgs/" + f.orgA.ID
		count := func() (int, int) {
			return len(f.mailsTo(t, f.orgA.ID, f.adminA.user.Email)), len(f.mailsTo(t, f.orgA.ID, admin2.user.Email))
		}
		n1, n2 := count()
		steps := []struct {
			name, method, path, body, want string
		}{
			{"invite", "POST", a + "/invitations", `{"email":"n3@a.example.jp","role":"staff"}`, "n3@a.example.jp"},
			{"revoke", "DELETE", a + "/invitations/n3@a.example.jp", "", "n3@a.example.jp"},
			{"role", "PATCH", a + "/members/" + f.staffA.user.ID, `{"role":"auditor"}`, f.staffA.user.Email},
			{"remove", "DELETE", a + "/members/" + f.staffA.user.ID, "", f.staffA.user.Email},
		}
		for _, s := range steps {
			rec := f.do(t, s.method, s.path, admin2.write, s.body)
			if rec.Code >= 300 {
				t.Fatalf("%s: %d %s", s.name, rec.Code, rec.Body)
			}
			m1, m2 := count()
			if m1 != n1+1 || m2 != n2+1 {
				t.Fatalf("%s: admins got %d and %d mails, want one each", s.name, m1-n1, m2-n2)
			}
			if last := f.mailsTo(t, f.orgA.ID, f.adminA.user.Email)[0]; !strings.Contains(last.Body, s.want) {
				t.Errorf("%s notice lacks %q:\n%s", s.name, s.want, last.Body)
			}
			n1, n2 = m1, m2
		}
		// A revoked invitation is gone, and revoking again is not found.
		if rec := f.do(t, "DELETE", a+"/invitations/n3@a.example.jp", admin2.write, ""); rec.Code != 404 {
			t.Fatalf("revoke twice: %d", rec.Code)
		}
		if rec := f.do(t, "DELETE", a+"/invitations/"+f.inviteA, f.staffA.write, ""); rec.Code != 401 && rec.Code != 403 {
			t.Fatalf("removed staff revokes: %d", rec.Code)
		}
		for _, action := range []string{audit.ActionInvite, audit.ActionInviteRevoke} {
			if n := len(f.entries(t, f.orgA.ID, action, "n3@a.example.jp")); n != 1 {
				t.Errorf("%d %s entries", n, action)
			}
		}
		for _, action := range []string{audit.ActionMemberRole, audit.ActionMemberRemove} {
			es := f.entries(t, f.orgA.ID, action, f.staffA.user.ID)
			if len(es) != 1 || es[0].ObjectType != "user" {
				t.Errorf("%s entries: %+v", action, es)
			}
		}
	})
}

// TestCreateOrgAuditedOnce: creating an organisation records one entry,
// object "org", in the new organisation's log, like the web, and its copy
// in the operator's own log.
func TestCreateOrgAuditedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		rec := f.do(t, "POST", "/api/v1/orgs", f.op.write, `{"kind":"clinic","name":"D診療所","admin_email":"head@d.example.jp"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		o := decodeBody[orgCreated](t, rec).Org
		es := f.entries(t, o.ID, audit.ActionOrgCreate, o.ID)
		if len(es) != 1 || es[0].ObjectType != "org" {
			t.Fatalf("create entries: %+v", es)
		}
		if n := len(f.entries(t, f.isac.ID, audit.ActionOrgCreate, o.ID)); n != 1 {
			t.Fatalf("%d copies of the creation in the operator's log, want 1", n)
		}
		if n := len(f.entries(t, o.ID, audit.ActionInvite, "head@d.example.jp")); n != 1 {
			t.Fatalf("%d invitation entries", n)
		}
		// ISAC staff create nothing.
		opStaff := f.addPerson(t, f.isac, "staff@isac.example.jp", auth.RoleStaff)
		if rec := f.do(t, "POST", "/api/v1/orgs", opStaff.write, `{"kind":"clinic","name":"E診療所"}`); rec.Code != 403 {
			t.Fatalf("ISAC staff creates: %d", rec.Code)
		}
	})
}
