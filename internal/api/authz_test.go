package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/share"
	"github.com/medisac/medisac/internal/testkit/fresh"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// The authorization walk: every state-changing route of the route table
// (and the audited reads the permission table lists) is sent by every kind
// of principal at a fresh object of organisation A (a hospital), and must
// succeed exactly when auth.Allowed says the principal may do the route's
// action to that object. A refusal must look like the table says: another
// organisation's object answers 404 like a missing one, the principal's own
// organisation's object 403.

// authzReq is one request of the walk and the object it is aimed at.
type authzReq struct {
	path, body string
	target     auth.Target
}

// authzCase is one way to use a route: the action of the permission table
// it performs and how to build a fresh request for a principal.
type authzCase struct {
	name   string
	action string
	// actionOf, when set, names the action the route performs for a
	// principal when it differs by principal (an operator's invitation is
	// a proposal); the row shows action.
	actionOf func(p *auth.Principal) string
	setup    func(t *testing.T, z *authzFixture, who *authzPrincipal) authzReq
}

// actionFor is the table action the case performs for p.
func (c authzCase) actionFor(p *auth.Principal) string {
	if c.actionOf != nil {
		return c.actionOf(p)
	}
	return c.action
}

// authzPrincipal is one principal of the walk with the token it uses.
type authzPrincipal struct {
	name  string
	token string
	p     *auth.Principal
}

// authzFixture is the api fixture with a vendor organisation V and ISAC
// staff and auditors added, and a counter for unique names.
type authzFixture struct {
	*fixture
	orgV               *auth.Org
	adminV             person
	staffOp, auditorOp person
	principals         []*authzPrincipal
	byName             map[string]*authzPrincipal
	seq                int
}

// authzPrincipalNames are the principals of the walk, as in the policy
// invariants test of internal/auth.
var authzPrincipalNames = []string{"member admin", "member staff", "member auditor", "read-only token",
	"other member", "vendor", "ISAC admin", "ISAC staff", "ISAC auditor"}

func newAuthzFixture(t *testing.T, d *db.DB) *authzFixture {
	t.Helper()
	ctx := context.Background()
	z := &authzFixture{fixture: newFixture(t, d), byName: map[string]*authzPrincipal{}}
	f := z.fixture
	z.orgV = seed.Org(t, d, auth.OrgInput{Kind: auth.KindVendor, Name: "V医療システム", NameKana: "テスト", Prefecture: "東京都"}, f.clock.Now())
	z.adminV = z.person(t, z.orgV, "admin@v.example.jp", "ja", auth.RoleAdmin)
	z.staffOp = z.person(t, f.isac, "staff@isac.example.jp", "ja", auth.RoleStaff)
	z.auditorOp = z.person(t, f.isac, "auditor@isac.example.jp", "ja", auth.RoleAuditor)
	f.api.Documents = &inventory.Documents{Blobs: &memBlobs{}, MaxSize: 1 << 20}
	f.api.Inventory.Documents = f.api.Documents
	tokens := map[string]string{
		"member admin": f.adminA.write, "member staff": f.staffA.write, "member auditor": f.auditorA.write,
		"read-only token": f.adminA.read, "other member": f.adminB.write, "vendor": z.adminV.write,
		"ISAC admin": f.op.write, "ISAC staff": z.staffOp.write, "ISAC auditor": z.auditorOp.write,
	}
	for _, n := range authzPrincipalNames {
		p, err := auth.PrincipalForToken(ctx, d, tokens[n], f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		ap := &authzPrincipal{name: n, token: tokens[n], p: p}
		z.principals = append(z.principals, ap)
		z.byName[n] = ap
	}
	// V's own vendor checklist, filled in, so that V can answer requests.
	e, err := assessRegistry().Get(ctx, d, z.orgV.ID, "mhlw-r7-vendor")
	if err != nil {
		t.Fatal(err)
	}
	seed.FilledSheet(t, d, e, z.orgV.ID, z.adminV.user.ID, 2025, "2025-04-01", f.clock.Now())
	return z
}

func (z *authzFixture) next() int { z.seq++; return z.seq }

func (z *authzFixture) tx(t *testing.T, fn func(ctx context.Context, tx *db.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := z.d.InTx(ctx, func(tx *db.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

// principalOf returns the principal acting for a person's write token.
func (z *authzFixture) principalOf(t *testing.T, p person) *auth.Principal {
	t.Helper()
	pr, err := auth.PrincipalForToken(context.Background(), z.d, p.write, z.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

// A's fresh objects.

// invRecords creates one fresh record of every generic kind in A.
func (z *authzFixture) invRecords(t *testing.T) map[string]string {
	var out map[string]string
	n := z.next()
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		now := z.clock.Now()
		a := z.orgA.ID
		var err error
		if out, err = seed.InventoryRecords(ctx, tx, a, z.staffA.user.ID, n, now); err != nil {
			return err
		}
		d, err := z.api.Documents.Upload(ctx, tx, a, z.adminA.user.ID, inventory.DocumentInput{SystemID: out["systems"], Kind: inventory.DocMDS, Title: "MDS", Filename: "mds.pdf"}, bytes.NewReader(minimalPDF), now)
		if err != nil {
			return err
		}
		out["documents"] = d.ID
		return nil
	})
	return out
}

// freshSheet starts a sheet of A; complete answers it so that it can be
// signed, signed signs it.
func (z *authzFixture) freshSheet(t *testing.T, complete, signed bool) (sheet, evidence string) {
	e, err := assessRegistry().Get(context.Background(), z.d, z.orgA.ID, "mhlw-r7-institution")
	if err != nil {
		t.Fatal(err)
	}
	var signer *auth.Principal
	if signed {
		signer = z.principalOf(t, z.adminA)
	}
	return fresh.Sheet(t, z.d, e, z.orgA.ID, z.staffA.user.ID, 2025, "2025-04-01", z.next(), complete, signer, z.clock.Now())
}

// freshSurvey is an open ISAC survey sent to hospitals.
func (z *authzFixture) freshSurvey(t *testing.T) string {
	var id string
	yaml := strings.Replace(apiSurvey, "id: isac-api-survey", fmt.Sprintf("id: isac-authz-survey-%d", z.next()), 1)
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		s, err := assess.CreateSurvey(ctx, tx, assessRegistry(), z.isac.ID, z.op.user.ID, []byte(yaml), assess.OrgFilter{Kinds: []string{"hospital"}}, "", z.clock.Now())
		if err == nil {
			id = s.ID
		}
		return err
	})
	return id
}

// freshVendorRequest is a request of A to vendor organisation V.
func (z *authzFixture) freshVendorRequest(t *testing.T) string {
	var id string
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		v, err := inventory.CreateVendor(ctx, tx, z.orgA.ID, inventory.Vendor{Name: fmt.Sprintf("V医療システム%d", z.next()), MedisacOrgID: z.orgV.ID}, z.clock.Now())
		if err != nil {
			return err
		}
		r, _, err := assess.RequestVendorSheet(ctx, tx, assessRegistry(), z.orgA.ID, z.adminA.user.ID,
			assess.VendorRequestInput{VendorID: v.ID, EditionID: "mhlw-r7-vendor", FiscalYear: 2025}, z.clock.Now())
		if err == nil {
			id = r.ID
		}
		return err
	})
	return id
}

// freshFinding is a FortiGate of A affected by CVE-2022-42475.
func (z *authzFixture) freshFinding(t *testing.T) (asset, finding string) {
	return fresh.FortiGateFinding(t, z.d, z.cat, z.orgA.ID, z.next(), z.clock.Now)
}

// freshGroup is a hospital group owned by owner's organisation, with the
// organisations of invite invited, and of those the organisations of join
// having accepted.
func (z *authzFixture) freshGroup(t *testing.T, owner person, invite []string, join []person) string {
	var joiners []*auth.Principal
	for _, p := range join {
		joiners = append(joiners, z.principalOf(t, p))
	}
	return fresh.HospitalGroup(t, z.d, z.principalOf(t, owner), z.next(), invite, joiners, z.clock.Now())
}

// freshPost is a TLP:AMBER post of A written by A's staff member.
func (z *authzFixture) freshPost(t *testing.T) (post, indicator string) {
	v := share.Viewer{OrgID: z.orgA.ID, UserID: z.staffA.user.ID, Write: true}
	return fresh.IncidentPost(t, z.d, v, z.next(), z.clock.Now())
}

// freshShareGroup is a customers group of A.
func (z *authzFixture) freshShareGroup(t *testing.T) string {
	adm := share.Viewer{OrgID: z.orgA.ID, UserID: z.adminA.user.ID, Admin: true, Write: true}
	return seed.Group(t, z.d, adm, fmt.Sprintf("取引先%d", z.next()), share.GroupCustomers, z.clock.Now(), z.orgA.ID)
}

// vendorGroupInvitingA is a customers group of the vendor V that has
// invited A, waiting for A's answer.
func (z *authzFixture) vendorGroupInvitingA(t *testing.T) string {
	v := share.Viewer{OrgID: z.orgV.ID, UserID: z.adminV.user.ID, Admin: true, Write: true}
	return seed.Group(t, z.d, v, fmt.Sprintf("顧客%d", z.next()), share.GroupCustomers, z.clock.Now(), z.orgA.ID)
}

// freshMember is a new staff member of A.
func (z *authzFixture) freshMember(t *testing.T) string {
	in := auth.NewUser{Email: fmt.Sprintf("member%d@a.example.jp", z.next()), DisplayName: "職員", Lang: "ja"}
	return seed.MemberAs(t, z.d, z.orgA, in, auth.RoleStaff, z.clock.Now()).User.ID
}

// authzCases maps every state-changing route (and the audited reads of
// the table) to the actions it performs. A route missing here fails the
// walk; so does an action missing from the table.
func authzCases() map[string][]authzCase {
	own := func(who *authzPrincipal) auth.Target { return auth.Target{OrgID: who.p.OrgID} }
	onA := func(z *authzFixture) auth.Target { return auth.Target{OrgID: z.orgA.ID} }
	c := map[string][]authzCase{}
	add := func(key string, cs ...authzCase) { c[key] = append(c[key], cs...) }
	fixed := func(name, action string, fn func(z *authzFixture, who *authzPrincipal) authzReq) authzCase {
		return authzCase{name: name, action: action, setup: func(_ *testing.T, z *authzFixture, who *authzPrincipal) authzReq { return fn(z, who) }}
	}

	// Foundation.
	add("POST /api/v1/orgs", fixed("new hospital", "org.create", func(z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: "/api/v1/orgs", body: fmt.Sprintf(`{"kind":"hospital","name":"新病院%d"}`, z.next())}
	}))
	add("PATCH /api/v1/orgs/{id}",
		fixed("A's record", "org.update", func(z *authzFixture, _ *authzPrincipal) authzReq {
			return authzReq{path: "/api/v1/orgs/" + z.orgA.ID, body: fmt.Sprintf(`{"beds":%d}`, 100+z.next()), target: onA(z)}
		}),
		authzCase{name: "A's kind", action: "org.update.kind", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			// A fresh hospital, so that a change of kind leaves A alone.
			o, err := auth.CreateOrg(context.Background(), z.d, auth.OrgInput{Kind: auth.KindHospital, Name: fmt.Sprintf("種別病院%d", z.next()), NameKana: "テスト", Prefecture: "東京都"}, z.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return authzReq{path: "/api/v1/orgs/" + o.ID, body: `{"kind":"clinic"}`, target: auth.Target{OrgID: o.ID}}
		}},
		authzCase{name: "A's sign-in policy", action: "org.update.mfa_policy", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			// Always a change: the other policy than A's current one.
			var cur string
			if err := z.d.QueryRow(context.Background(), `SELECT mfa_policy FROM organizations WHERE id = ?`, z.orgA.ID).Scan(&cur); err != nil {
				t.Fatal(err)
			}
			pol := "everyone"
			if cur == "everyone" {
				pol = "admins"
			}
			return authzReq{path: "/api/v1/orgs/" + z.orgA.ID, body: `{"mfa_policy":"` + pol + `"}`, target: onA(z)}
		}})
	add("PATCH /api/v1/orgs/{id}/members/{user}", authzCase{name: "A's staff member", action: "org.member.role",
		setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			return authzReq{path: "/api/v1/orgs/" + z.orgA.ID + "/members/" + z.freshMember(t), body: `{"role":"auditor"}`, target: onA(z)}
		}})
	add("DELETE /api/v1/orgs/{id}/members/{user}", authzCase{name: "A's staff member", action: "org.member.remove",
		setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			return authzReq{path: "/api/v1/orgs/" + z.orgA.ID + "/members/" + z.freshMember(t), target: onA(z)}
		}})
	invite := fixed("into A", "org.invite", func(z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: "/api/v1/orgs/" + z.orgA.ID + "/invitations", body: fmt.Sprintf(`{"email":"new%d@a.example.jp","role":"staff"}`, z.next()), target: onA(z)}
	})
	// A has admins, so an operator's invitation is a proposal that waits
	// for their consent.
	invite.actionOf = func(p *auth.Principal) string {
		if p.IsOperator() {
			return "org.proposal"
		}
		return "org.invite"
	}
	add("POST /api/v1/orgs/{id}/invitations", invite)
	add("DELETE /api/v1/orgs/{id}/invitations/{email}", authzCase{name: "A's invitation", action: "org.invite.revoke",
		setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			email := fmt.Sprintf("pending%d@a.example.jp", z.next())
			z.tx(t, func(ctx context.Context, tx *db.Tx) error {
				_, err := auth.Invite(ctx, tx, nil, z.byName["member admin"].p, z.orgA.ID, auth.InviteInput{Email: email, Role: auth.RoleStaff}, z.clock.Now())
				return err
			})
			return authzReq{path: "/api/v1/orgs/" + z.orgA.ID + "/invitations/" + email, target: onA(z)}
		}})
	proposal := func(t *testing.T, z *authzFixture) string {
		var id string
		z.tx(t, func(ctx context.Context, tx *db.Tx) error {
			inv, err := auth.Invite(ctx, tx, nil, z.byName["ISAC admin"].p, z.orgA.ID, auth.InviteInput{Email: fmt.Sprintf("proposed%d@a.example.jp", z.next()), Role: auth.RoleStaff}, z.clock.Now())
			if err != nil {
				return err
			}
			if inv.Proposal == nil {
				return fmt.Errorf("an operator's invitation into A made no proposal")
			}
			id = inv.Proposal.ID
			return nil
		})
		return id
	}
	for _, verb := range []string{"accept", "decline"} {
		add("POST /api/v1/orgs/{id}/proposals/{proposal}/"+verb, authzCase{name: "the ISAC's proposal into A", action: "org.proposal.answer",
			setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
				return authzReq{path: "/api/v1/orgs/" + z.orgA.ID + "/proposals/" + proposal(t, z) + "/" + verb, target: onA(z)}
			}})
	}
	add("DELETE /api/v1/tokens/{id}",
		authzCase{name: "own token", action: "auth.token.revoke", setup: func(t *testing.T, z *authzFixture, who *authzPrincipal) authzReq {
			_, tok, err := auth.CreateToken(context.Background(), z.d, who.p.UserID, who.p.OrgID, "spare", true, nil, z.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return authzReq{path: "/api/v1/tokens/" + tok.ID, target: auth.Target{UserID: who.p.UserID}}
		}},
		authzCase{name: "A staff's token", action: "auth.token.revoke", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			_, tok, err := auth.CreateToken(context.Background(), z.d, z.staffA.user.ID, z.orgA.ID, "spare", true, nil, z.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			return authzReq{path: "/api/v1/tokens/" + tok.ID, target: auth.Target{UserID: z.staffA.user.ID}}
		}})
	// Audited reads the table lists.
	add("GET /api/v1/orgs/{id}/members", fixed("A's members", "record.read.members", func(z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: "/api/v1/orgs/" + z.orgA.ID + "/members", target: onA(z)}
	}))
	add("GET /api/v1/orgs/{id}/audit", fixed("A's log", "audit.read", func(z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: "/api/v1/orgs/" + z.orgA.ID + "/audit", target: onA(z)}
	}))
	add("GET /api/v1/audit", fixed("own log", "audit.read", func(_ *authzFixture, who *authzPrincipal) authzReq {
		return authzReq{path: "/api/v1/audit", target: own(who)}
	}))

	// Inventory.
	inv := "/api/v1/orgs/{A}/inventory"
	invPath := func(z *authzFixture, rest string) string {
		return strings.Replace(inv, "{A}", z.orgA.ID, 1) + rest
	}
	createBodies := map[string]func(ids map[string]string, n int) string{
		"assets":   func(_ map[string]string, n int) string { return fmt.Sprintf(`{"name":"新端末%d","kind":"pc"}`, n) },
		"segments": func(_ map[string]string, n int) string { return fmt.Sprintf(`{"name":"新系%d","kind":"medical"}`, n) },
		"communications": func(ids map[string]string, _ int) string {
			return `{"peer":"監視","port":"443","reason":"監視","asset_id":"` + ids["assets"] + `"}`
		},
		"connections": func(ids map[string]string, n int) string {
			return fmt.Sprintf(`{"name":"新回線%d","type":"ssl_vpn","asset_id":"%s"}`, n, ids["assets"])
		},
		"vendors": func(_ map[string]string, n int) string { return fmt.Sprintf(`{"name":"新業者%d"}`, n) },
		"systems": func(ids map[string]string, n int) string {
			return fmt.Sprintf(`{"name":"新システム%d","vendor_id":"%s"}`, n, ids["vendors"])
		},
		"contracts": func(ids map[string]string, n int) string {
			return fmt.Sprintf(`{"title":"新契約%d","vendor_id":"%s"}`, n, ids["vendors"])
		},
		"accounts": func(ids map[string]string, n int) string {
			return fmt.Sprintf(`{"username":"new%d","kind":"personal","system_id":"%s"}`, n, ids["systems"])
		},
	}
	for _, kind := range []string{"assets", "segments", "communications", "connections", "vendors", "systems", "contracts", "accounts"} {
		kind := kind
		add("POST "+invBase+"/"+kind, authzCase{name: "into A", action: "inventory.write", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			ids := z.invRecords(t)
			return authzReq{path: invPath(z, "/"+kind), body: createBodies[kind](ids, z.next()), target: onA(z)}
		}})
		add("PATCH "+invBase+"/"+kind+"/{rec}", authzCase{name: "A's record", action: "inventory.write", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			ids := z.invRecords(t)
			body := map[string]string{"segments": `{"name":"更新系%d"}`, "systems": `{"name":"更新システム%d"}`, "contracts": `{"title":"更新契約%d"}`,
				"communications": `{"reason":"更新%d"}`}[kind]
			if body == "" {
				body = `{"notes":"更新%d"}`
			}
			body = fmt.Sprintf(body, z.next())
			return authzReq{path: invPath(z, "/"+kind+"/"+ids[kind]), body: body, target: onA(z)}
		}})
		add("DELETE "+invBase+"/"+kind+"/{rec}", authzCase{name: "A's record", action: "inventory.write", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			ids := z.invRecords(t)
			return authzReq{path: invPath(z, "/"+kind+"/"+ids[kind]), target: onA(z)}
		}})
	}
	add("PUT "+invBase+"/systems/{rec}/responsibilities", authzCase{name: "A's system", action: "inventory.write", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		ids := z.invRecords(t)
		return authzReq{path: invPath(z, "/systems/"+ids["systems"]+"/responsibilities"), body: `{"responsibilities":[{"duty":"backup","holder":"vendor"}]}`, target: onA(z)}
	}})
	add("DELETE "+invBase+"/documents/{rec}", authzCase{name: "A's document", action: "inventory.write", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		ids := z.invRecords(t)
		return authzReq{path: invPath(z, "/documents/"+ids["documents"]), target: onA(z)}
	}})
	for _, p := range []string{"/import/preview", "/import/apply"} {
		p := p
		add("POST "+invBase+p, fixed("into A", "inventory.import", func(z *authzFixture, _ *authzPrincipal) authzReq {
			return authzReq{path: invPath(z, p+"?filename=x.csv"), body: fmt.Sprintf("名称,種別\nPC-%d,PC\n", z.next()), target: onA(z)}
		}))
	}

	// Vulnerability watch.
	add("PATCH "+vulnBase+"/findings/{rec}", authzCase{name: "A's finding", action: "vuln.finding.state", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		_, fd := z.freshFinding(t)
		return authzReq{path: "/api/v1/orgs/" + z.orgA.ID + "/vuln/findings/" + fd, body: `{"state":"resolved"}`, target: onA(z)}
	}})
	add("PUT "+vulnBase+"/assets/{rec}/identity", authzCase{name: "A's device", action: "vuln.identity.set", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		as, _ := z.freshFinding(t)
		return authzReq{path: "/api/v1/orgs/" + z.orgA.ID + "/vuln/assets/" + as + "/identity", body: `{"cpe":["cpe:2.3:o:fortinet:fortios:7.2.5"]}`, target: onA(z)}
	}})
	add("PUT /api/v1/vuln/aliases", fixed("the service's table", "vuln.aliases.change", func(z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: "/api/v1/vuln/aliases", body: withAPISpelling(fmt.Sprintf("ふぉーちねっと%d", z.next()), "fortinet")}
	}))

	// Assessments.
	asA := func(z *authzFixture, rest string) string { return "/api/v1/orgs/" + z.orgA.ID + "/assess" + rest }
	add("POST "+asBase+"/sheets", fixed("into A", "assess.sheet.create", func(z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: asA(z, "/sheets"), body: fmt.Sprintf(`{"edition_id":"mhlw-r7-institution","fiscal_year":%d}`, 2026+z.next()%70), target: onA(z)}
	}))
	add("PUT "+asBase+"/sheets/{sheet}/answers", authzCase{name: "A's sheet", action: "assess.answer.save", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		sh, _ := z.freshSheet(t, false, false)
		return authzReq{path: asA(z, "/sheets/"+sh+"/answers"), body: `{"answers":[{"item_id":"has_system","cell":"","answer1":"no","date1":"2025-04-01"}]}`, target: onA(z)}
	}})
	add("POST "+asBase+"/sheets/{sheet}/evidence", authzCase{name: "A's sheet", action: "assess.evidence.add", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		sh, _ := z.freshSheet(t, false, false)
		return authzReq{path: asA(z, "/sheets/"+sh+"/evidence"), body: `{"item_id":"has_system","name":"x.pdf","content_base64":"` + base64.StdEncoding.EncodeToString(minimalPDF) + `"}`, target: onA(z)}
	}})
	add("DELETE "+asBase+"/sheets/{sheet}/evidence/{ev}", authzCase{name: "A's evidence", action: "assess.evidence.delete", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		sh, ev := z.freshSheet(t, false, false)
		return authzReq{path: asA(z, "/sheets/"+sh+"/evidence/"+ev), target: onA(z)}
	}})
	add("POST "+asBase+"/sheets/{sheet}/sign", authzCase{name: "A's complete sheet", action: "assess.sheet.sign", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		sh, _ := z.freshSheet(t, true, false)
		return authzReq{path: asA(z, "/sheets/"+sh+"/sign"), body: `{"name":"院長"}`, target: onA(z)}
	}})
	add("POST "+asBase+"/sheets/{sheet}/reopen", authzCase{name: "A's signed sheet", action: "assess.sheet.reopen", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		sh, _ := z.freshSheet(t, true, true)
		return authzReq{path: asA(z, "/sheets/"+sh+"/reopen"), body: `{}`, target: onA(z)}
	}})
	add("POST "+asBase+"/vendor-requests", authzCase{name: "A to V", action: "assess.vendor.request", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		var vid string
		z.tx(t, func(ctx context.Context, tx *db.Tx) error {
			v, err := inventory.CreateVendor(ctx, tx, z.orgA.ID, inventory.Vendor{Name: fmt.Sprintf("依頼先%d", z.next()), MedisacOrgID: z.orgV.ID}, z.clock.Now())
			if err == nil {
				vid = v.ID
			}
			return err
		})
		return authzReq{path: asA(z, "/vendor-requests"), body: `{"vendor_id":"` + vid + `","edition_id":"mhlw-r7-vendor","fiscal_year":2025}`, target: onA(z)}
	}})
	add("POST "+asBase+"/inbox/{request}/answer", authzCase{name: "A's request to V", action: "assess.vendor.answer", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		id := z.freshVendorRequest(t)
		return authzReq{path: "/api/v1/orgs/" + z.orgV.ID + "/assess/inbox/" + id + "/answer", body: `{}`, target: auth.Target{OrgID: z.orgV.ID}}
	}})
	opSurveys := func(z *authzFixture, rest string) string {
		return "/api/v1/orgs/" + z.isac.ID + "/assess/surveys" + rest
	}
	add("POST "+asBase+"/surveys", fixed("the ISAC's survey", "assess.survey.create", func(z *authzFixture, _ *authzPrincipal) authzReq {
		yaml := strings.Replace(apiSurvey, "id: isac-api-survey", fmt.Sprintf("id: isac-authz-new-%d", z.next()), 1)
		return authzReq{path: opSurveys(z, ""), body: `{"edition":` + jsonString(yaml) + `,"filter":{"kinds":["hospital"]}}`, target: auth.Target{OrgID: z.isac.ID}}
	}))
	add("POST "+asBase+"/surveys/{survey}/remind", authzCase{name: "the ISAC's survey", action: "assess.survey.remind", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: opSurveys(z, "/"+z.freshSurvey(t)+"/remind"), body: `{}`, target: auth.Target{OrgID: z.isac.ID}}
	}})
	add("POST "+asBase+"/surveys/{survey}/close", authzCase{name: "the ISAC's survey", action: "assess.survey.close", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: opSurveys(z, "/"+z.freshSurvey(t)+"/close"), body: `{}`, target: auth.Target{OrgID: z.isac.ID}}
	}})
	add("PUT "+asBase+"/surveys/{survey}/response", authzCase{name: "A's answer to the ISAC", action: "assess.survey.respond", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: asA(z, "/surveys/"+z.freshSurvey(t)+"/response"), body: `{"answers":[{"item_id":"offline","cell":"","value":"no"}]}`, target: onA(z)}
	}})

	// Hospital groups.
	add("POST "+hgroupBase, fixed("own group", "group.create", func(z *authzFixture, who *authzPrincipal) authzReq {
		return authzReq{path: hgroupBase, body: fmt.Sprintf(`{"name":"新グループ%d"}`, z.next()), target: own(who)}
	}))
	add("DELETE "+hgroupBase+"/{group}", authzCase{name: "A's group", action: "group.delete", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: hgroupBase + "/" + z.freshGroup(t, z.adminA, nil, nil), target: onA(z)}
	}})
	add("POST "+hgroupBase+"/{group}/invitations", authzCase{name: "B into A's group", action: "group.invite", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: hgroupBase + "/" + z.freshGroup(t, z.adminA, nil, nil) + "/invitations", body: `{"ref":"` + z.orgB.ID + `"}`, target: onA(z)}
	}})
	add("DELETE "+hgroupBase+"/{group}/members/{org}", authzCase{name: "B out of A's group", action: "group.remove", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		g := z.freshGroup(t, z.adminA, []string{z.orgB.ID}, []person{z.adminB})
		return authzReq{path: hgroupBase + "/" + g + "/members/" + z.orgB.ID, target: onA(z)}
	}})
	add("POST "+hgroupBase+"/{group}/membership", authzCase{name: "A accepts B's invitation", action: "group.accept", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		g := z.freshGroup(t, z.adminB, []string{z.orgA.ID}, nil)
		return authzReq{path: hgroupBase + "/" + g + "/membership", body: `{"accept":true}`, target: onA(z)}
	}})
	add("DELETE "+hgroupBase+"/{group}/membership", authzCase{name: "A leaves B's group", action: "group.leave", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		g := z.freshGroup(t, z.adminB, []string{z.orgA.ID}, []person{z.adminA})
		return authzReq{path: hgroupBase + "/" + g + "/membership", target: onA(z)}
	}})

	// Sharing hub. The share routes work on the caller's organisation.
	postOfA := func(action, suffix, method, body string) authzCase {
		return authzCase{name: "A staff's post", action: action, setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			p, _ := z.freshPost(t)
			return authzReq{path: shareBase + "/posts/" + p + suffix, body: body, target: auth.Target{OrgID: z.orgA.ID, AuthorID: z.staffA.user.ID}}
		}}
	}
	add("POST "+shareBase+"/posts", fixed("own post", "share.post.create", func(z *authzFixture, who *authzPrincipal) authzReq {
		return authzReq{path: shareBase + "/posts", body: fmt.Sprintf(`{"kind":"advisory","tlp":"green","title":"注意喚起%d"}`, z.next()), target: own(who)}
	}))
	add("PATCH "+shareBase+"/posts/{post}", postOfA("share.post.label", "", "PATCH", `{"tlp":"green"}`))
	add("DELETE "+shareBase+"/posts/{post}", postOfA("share.post.delete", "", "DELETE", ""))
	add("POST "+shareBase+"/posts/{post}/recipients", authzCase{name: "A staff's post", action: "share.post.recipients", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		p, _ := z.freshPost(t)
		return authzReq{path: shareBase + "/posts/" + p + "/recipients", body: `{"orgs":["` + z.orgB.ID + `"]}`, target: auth.Target{OrgID: z.orgA.ID, AuthorID: z.staffA.user.ID}}
	}})
	add("POST "+shareBase+"/posts/{post}/comments", postOfA("share.comment", "/comments", "POST", `{"body":"確認しました"}`))
	add("PUT "+shareBase+"/posts/{post}/response", postOfA("share.response", "/response", "PUT", `{"status":"affected"}`))
	add("POST "+shareBase+"/indicators/{indicator}/sightings", authzCase{name: "A's indicator", action: "share.sighting", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		_, ind := z.freshPost(t)
		return authzReq{path: shareBase + "/indicators/" + ind + "/sightings", target: auth.Target{OrgID: z.orgA.ID}}
	}})
	add("POST "+shareBase+"/groups", fixed("own customers group", "share.group.create", func(z *authzFixture, who *authzPrincipal) authzReq {
		return authzReq{path: shareBase + "/groups", body: fmt.Sprintf(`{"name":"取引先%d","kind":"customers"}`, z.next()), target: own(who)}
	}))
	add("PUT "+shareBase+"/groups/{group}/members/{org}", authzCase{name: "B into A's group", action: "share.group.member", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: shareBase + "/groups/" + z.freshShareGroup(t) + "/members/" + z.orgB.ID, target: onA(z)}
	}})
	add("DELETE "+shareBase+"/groups/{group}/members/{org}", authzCase{name: "A out of A's group", action: "share.group.member", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
		return authzReq{path: shareBase + "/groups/" + z.freshShareGroup(t) + "/members/" + z.orgA.ID, target: onA(z)}
	}})
	for _, verb := range []string{"accept", "decline"} {
		add("POST "+shareBase+"/group-invites/{group}/"+verb, authzCase{name: "V's invitation of A", action: "share.group.accept", setup: func(t *testing.T, z *authzFixture, _ *authzPrincipal) authzReq {
			return authzReq{path: shareBase + "/group-invites/" + z.vendorGroupInvitingA(t) + "/" + verb, target: onA(z)}
		}})
	}
	add("PUT "+shareBase+"/subscription", fixed("own subscription", "share.subscription", func(_ *authzFixture, who *authzPrincipal) authzReq {
		return authzReq{path: shareBase + "/subscription", body: `{"immediate_tlp":["red"],"immediate_kinds":[],"digest":true}`, target: auth.Target{UserID: who.p.UserID}}
	}))
	add("PUT "+shareBase+"/webhook", fixed("own webhook", "share.webhook", func(z *authzFixture, who *authzPrincipal) authzReq {
		return authzReq{path: shareBase + "/webhook", body: fmt.Sprintf(`{"url":"https://hook%d.example.jp/","secret":"0123456789abcdef"}`, z.next()), target: own(who)}
	}))
	add("DELETE "+shareBase+"/webhook", fixed("own webhook", "share.webhook", func(_ *authzFixture, who *authzPrincipal) authzReq {
		return authzReq{path: shareBase + "/webhook", target: own(who)}
	}))
	add("POST "+shareBase+"/import", fixed("own bundle", "share.import", func(z *authzFixture, who *authzPrincipal) authzReq {
		return authzReq{path: shareBase + "/import", body: testBundle(fmt.Sprintf("203.0.113.%d", z.next()%250+1)), target: own(who)}
	}))
	return c
}

// notStateChanging are the POST routes that change nothing, with the
// reason; the walk checks that the route table lets read-only principals
// use them.
var notStateChanging = map[string]string{
	"POST " + shareBase + "/pii-check": "checks a draft for personal data and stores nothing",
}

// authzWant is the answer the table asks for: 0 for success, else the
// refusal status auth.Authorize gives (404 for an object p has no business
// seeing, 403 otherwise), and whether 403 will do instead of 404: a
// principal who may never do the action, even in its own organisation, may
// be refused before the object is looked at, which tells nothing about it.
func authzWant(p *auth.Principal, rt route, action string, t auth.Target) (int, bool) {
	err := auth.Authorize(p, action, t)
	if err == nil {
		return 0, false
	}
	// A principal who may change nothing is refused by the route table
	// before any object is looked at.
	if rt.Write && !p.CanWrite() {
		return http.StatusForbidden, false
	}
	if t.UserID != "" && t.UserID != p.UserID {
		// Another person's token looks missing; a principal who may not
		// revoke even its own (a read-only token) may be refused first.
		return http.StatusNotFound, !auth.Allowed(p, action, auth.Target{UserID: p.UserID})
	}
	if errors.Is(err, db.ErrNotFound) {
		// Operators see every organisation's record, so refusing them a
		// field of it may say so.
		if p.IsOperator() && strings.HasPrefix(action, "org.update") {
			return http.StatusNotFound, true
		}
		return http.StatusNotFound, !auth.Allowed(p, action, auth.Target{OrgID: p.OrgID, AuthorID: p.UserID, UserID: p.UserID})
	}
	return http.StatusForbidden, false
}

// TestAuthorizationTable walks every state-changing route with every
// principal against the permission table.
func TestAuthorizationTable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		z := newAuthzFixture(t, d)
		cases := authzCases()
		seen := map[string]bool{}
		matrix := map[string]map[string]authzCell{}
		outside := 0
		for _, rt := range z.api.routes() {
			key := rt.Method + " " + rt.Pattern
			cs, mapped := cases[key]
			seen[key] = mapped
			if rt.Method == "GET" && !mapped {
				continue
			}
			if why, ok := notStateChanging[key]; ok {
				if rt.Write {
					t.Errorf("%s is listed as changing nothing (%s) but the route table marks it as a write", key, why)
				}
				continue
			}
			if !mapped {
				t.Errorf("state-changing route %s has no action in authzCases", key)
				continue
			}
			for _, c := range cs {
				if _, ok := auth.RuleOf(c.action); !ok {
					t.Errorf("%s (%s): action %q is not in the permission table", key, c.name, c.action)
					continue
				}
				row := key + " | " + c.name + " [" + c.action + "]"
				matrix[row] = map[string]authzCell{}
				for _, who := range z.principals {
					req := c.setup(t, z, who)
					if _, pat := z.api.mux.Handler(httptest.NewRequest(rt.Method, req.path, nil)); pat != key {
						t.Fatalf("%s: path %s routes to %q", key, req.path, pat)
					}
					rec := z.do(t, rt.Method, req.path, who.token, req.body)
					want, or403 := authzWant(who.p, rt, c.actionFor(who.p), req.target)
					ok := rec.Code >= 200 && rec.Code < 300
					good := (want == 0 && ok) || (want != 0 && rec.Code == want) || (or403 && rec.Code == http.StatusForbidden)
					if ok && want != 0 {
						outside++
					}
					wantS := "ok"
					if want != 0 {
						wantS = fmt.Sprint(want)
					}
					if or403 {
						wantS = "404|403"
					}
					matrix[row][who.name] = authzCell{got: fmt.Sprint(rec.Code), want: wantS}
					if good {
						continue
					}
					t.Errorf("%s as %s: got %d, want %s: %s", row, who.name, rec.Code, wantS, strings.TrimSpace(rec.Body.String()))
				}
			}
		}
		for key := range cases {
			if _, ok := seen[key]; !ok {
				t.Errorf("authzCases lists %s, which is not a route", key)
			}
		}
		t.Logf("permitted outside the table: %d", outside)
		if outside != 0 {
			t.Errorf("permitted outside the table: %d", outside)
		}
		if t.Failed() {
			t.Log("\n" + authzMatrix(matrix))
		}
	})
}

// authzMatrix renders route × principal as got/want, marking mismatches.
type authzCell struct{ got, want string }

func authzMatrix(m map[string]map[string]authzCell) string {
	var rows []string
	for r := range m {
		rows = append(rows, r)
	}
	sort.Strings(rows)
	var b strings.Builder
	b.WriteString("route | ")
	for _, n := range authzPrincipalNames {
		b.WriteString(n + " | ")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString(r + " | ")
		for _, n := range authzPrincipalNames {
			c := m[r][n]
			mark := ""
			okGot := strings.HasPrefix(c.got, "2")
			if (c.want == "ok") != okGot || (c.want != "ok" && !strings.Contains(c.want, c.got)) {
				mark = " ✗"
			}
			b.WriteString(c.got + "/" + c.want + mark + " | ")
		}
		b.WriteString("\n")
	}
	return b.String()
}
