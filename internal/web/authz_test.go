package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/inventory"
	"github.com/medisac/medisac/internal/testkit"
	"github.com/medisac/medisac/internal/testkit/fresh"
	"github.com/medisac/medisac/internal/testkit/seed"
	"github.com/medisac/medisac/internal/vuln/match"
)

// The authorization walk of the pages: every form of the inventory, the
// vulnerability watch, the checklists, the organisation page and hospital
// groups, the operators' pages and the sharing hub is sent by
// every kind of signed-in person at a fresh object of the hospital, and
// must succeed exactly when auth.Allowed says so. The pages always work in
// the person's own organisation, so a refusal that does not depend on the
// object (the person may never do the action there) says 403, a
// service page says 404 to members (it does not exist for them), and an
// object of another organisation looks missing (404).

// webAuthzReq is one form submission and the object it is aimed at.
type webAuthzReq struct {
	path   string
	form   url.Values
	target auth.Target
	// file, when set, is sent as the form's "file" field (a multipart
	// form).
	file *webFile
	// after, when set, runs after the request (to undo a change later
	// cases must not see).
	after func(t *testing.T)
}

type webFile struct {
	name string
	data []byte
}

type webAuthzCase struct {
	name, action string
	// operatorPage is set for pages only ISAC operators have.
	operatorPage bool
	setup        func(t *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq
}

type webPrincipal struct {
	name string
	u    *auth.User
	org  *auth.Org
	p    *auth.Principal
}

// webAuthz is the web test environment with a vendor organisation and
// ISAC staff and auditors added.
type webAuthz struct {
	*env
	vendor                      *auth.Org
	vendorAdmin, opStaff, opAud *auth.User
	// isac2 is a second ISAC operator, made when a case needs one.
	isac2      *auth.Org
	principals []*webPrincipal
	seq        int
}

var webAuthzNames = []string{"member admin", "member staff", "member auditor", "other member", "vendor", "ISAC admin", "ISAC staff", "ISAC auditor"}

func newWebAuthz(t *testing.T, d *db.DB) *webAuthz {
	z := &webAuthz{env: newEnv(t, d)}
	z.withDocuments(t)
	z.vendor = z.mustOrg(auth.OrgInput{Kind: auth.KindVendor, Name: "港医療システム", NameKana: "ミナトイリョウシステム"})
	z.vendorAdmin = z.mustUser("admin@minato-sys.jp", "港 一郎", z.vendor, auth.RoleAdmin)
	z.opStaff = z.mustUser("staff@isac.example.jp", "事務局 六郎", z.isac, auth.RoleStaff)
	z.opAud = z.mustUser("audit@isac.example.jp", "事務局 七郎", z.isac, auth.RoleAuditor)
	add := func(name string, u *auth.User, o *auth.Org, role auth.Role) {
		z.principals = append(z.principals, &webPrincipal{name: name, u: u, org: o,
			p: &auth.Principal{UserID: u.ID, OrgID: o.ID, OrgKind: o.Kind, Role: role}})
	}
	add("member admin", z.admin, z.hosp, auth.RoleAdmin)
	add("member staff", z.staff, z.hosp, auth.RoleStaff)
	add("member auditor", z.auditor, z.hosp, auth.RoleAuditor)
	add("other member", z.other, z.clinic, auth.RoleAdmin)
	add("vendor", z.vendorAdmin, z.vendor, auth.RoleAdmin)
	add("ISAC admin", z.oper, z.isac, auth.RoleAdmin)
	add("ISAC staff", z.opStaff, z.isac, auth.RoleStaff)
	add("ISAC auditor", z.opAud, z.isac, auth.RoleAuditor)
	// The vendor's own vendor checklist, filled in, so that it can answer.
	e, err := assessRegistry().Get(bg, d, z.vendor.ID, "mhlw-r7-vendor")
	if err != nil {
		t.Fatal(err)
	}
	seed.FilledSheet(t, d, e, z.vendor.ID, z.vendorAdmin.ID, 2026, "2026-04-01", z.clock.Now())
	return z
}

func (z *webAuthz) next() int { z.seq++; return z.seq }

func (z *webAuthz) tx(t *testing.T, fn func(ctx context.Context, tx *db.Tx) error) {
	t.Helper()
	if err := z.d.InTx(bg, func(tx *db.Tx) error { return fn(bg, tx) }); err != nil {
		t.Fatal(err)
	}
}

func (z *webAuthz) principal(u *auth.User) *auth.Principal {
	for _, w := range z.principals {
		if w.u.ID == u.ID {
			p := *w.p
			return &p
		}
	}
	return nil
}

// invRecords creates one record of every kind in the hospital.
func (z *webAuthz) invRecords(t *testing.T) map[string]string { return z.invRecordsIn(t, z.hosp.ID) }

// invRecordsIn creates one record of every kind in organisation a.
func (z *webAuthz) invRecordsIn(t *testing.T, a string) map[string]string {
	t.Helper()
	out, err := seed.InventoryRecords(bg, z.d, a, z.staff.ID, z.next(), z.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sheet starts a checklist of the hospital; complete answers it, signed
// signs it. It returns the sheet and an evidence item.
func (z *webAuthz) sheet(t *testing.T, complete, signed bool) (string, string) {
	e, err := assessRegistry().Get(bg, z.d, z.hosp.ID, "mhlw-r7-institution")
	if err != nil {
		t.Fatal(err)
	}
	var signer *auth.Principal
	if signed {
		signer = z.principal(z.admin)
	}
	return fresh.Sheet(t, z.d, e, z.hosp.ID, z.staff.ID, 2026, "2026-04-01", z.next(), complete, signer, z.clock.Now())
}

// survey is an open survey of the ISAC sent to hospitals.
func (z *webAuthz) survey(t *testing.T) string {
	var id string
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		s, err := assess.CreateSurvey(ctx, tx, assessRegistry(), z.isac.ID, z.oper.ID, []byte(testkit.Survey(fmt.Sprintf("isac-web-authz-%d", z.next()), "調査", 2026)),
			assess.OrgFilter{Kinds: []string{"hospital"}}, "", z.clock.Now())
		if err == nil {
			id = s.ID
		}
		return err
	})
	return id
}

// vendorRecord is a vendor of organisation orgID's register linked to the
// vendor organisation, or reached by e-mail when linked is not set.
func (z *webAuthz) vendorRecord(t *testing.T, orgID string, linked bool) string {
	var id string
	in := inventory.Vendor{Name: fmt.Sprintf("港医療システム%d", z.next()), Email: "support@minato-sys.jp"}
	if linked {
		in.MedisacOrgID = z.vendor.ID
	}
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		v, err := inventory.CreateVendor(ctx, tx, orgID, in, z.clock.Now())
		if err == nil {
			id = v.ID
		}
		return err
	})
	return id
}

// vendorRequest is a request of the hospital to a vendor: the vendor
// organisation when linked is set, else by e-mail.
func (z *webAuthz) vendorRequest(t *testing.T, linked bool) string {
	vid := z.vendorRecord(t, z.hosp.ID, linked)
	var id string
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		r, _, err := assess.RequestVendorSheet(ctx, tx, assessRegistry(), z.hosp.ID, z.admin.ID,
			assess.VendorRequestInput{VendorID: vid, EditionID: "mhlw-r7-vendor", FiscalYear: 2026}, z.clock.Now())
		if err == nil {
			id = r.ID
		}
		return err
	})
	return id
}

// finding is a FortiGate of the hospital affected by CVE-2022-42475.
func (z *webAuthz) finding(t *testing.T) (string, string) {
	return fresh.FortiGateFinding(t, z.d, catalog, z.hosp.ID, z.next(), z.clock.Now)
}

// group is a hospital group owned by owner's organisation with invite
// invited and those of join having accepted.
func (z *webAuthz) group(t *testing.T, owner *auth.User, invite []string, join []*auth.User) string {
	var joiners []*auth.Principal
	for _, u := range join {
		joiners = append(joiners, z.principal(u))
	}
	return fresh.HospitalGroup(t, z.d, z.principal(owner), z.next(), invite, joiners, z.clock.Now())
}

// webAuthzCases maps the forms of the walked areas to their actions.
func webAuthzCases() map[string][]webAuthzCase {
	c := map[string][]webAuthzCase{}
	onA := func(z *webAuthz) auth.Target { return auth.Target{OrgID: z.hosp.ID} }
	own := func(who *webPrincipal) auth.Target { return auth.Target{OrgID: who.org.ID} }
	add := func(pattern string, cs ...webAuthzCase) { c["POST "+pattern] = append(c["POST "+pattern], cs...) }

	// Inventory.
	forms := map[string]func(ids map[string]string, n int) url.Values{
		"assets": func(_ map[string]string, n int) url.Values {
			return url.Values{"name": {fmt.Sprintf("端末%d", n)}, "kind": {"pc"}}
		},
		"segments": func(_ map[string]string, n int) url.Values {
			return url.Values{"name": {fmt.Sprintf("新系%d", n)}, "kind": {"medical"}}
		},
		"communications": func(ids map[string]string, _ int) url.Values {
			return url.Values{"asset_id": {ids["assets"]}, "peer": {"監視"}, "port": {"443"}, "reason": {"監視"}}
		},
		"connections": func(ids map[string]string, n int) url.Values {
			return url.Values{"name": {fmt.Sprintf("新回線%d", n)}, "type": {"isdn"}, "asset_id": {ids["assets"]}, "mfa": {"no"}}
		},
		"vendors": func(_ map[string]string, n int) url.Values {
			return url.Values{"name": {fmt.Sprintf("新業者%d", n)}}
		},
		"systems": func(ids map[string]string, n int) url.Values {
			return url.Values{"name": {fmt.Sprintf("新システム%d", n)}, "vendor_id": {ids["vendors"]}}
		},
		"contracts": func(ids map[string]string, n int) url.Values {
			return url.Values{"title": {fmt.Sprintf("新契約%d", n)}, "vendor_id": {ids["vendors"]}}
		},
		"accounts": func(ids map[string]string, n int) url.Values {
			return url.Values{"username": {fmt.Sprintf("new%d", n)}, "kind": {"shared"}, "system_id": {ids["systems"]}}
		},
	}
	for kind, form := range forms {
		kind, form := kind, form
		add("/inventory/"+kind, webAuthzCase{name: "new record of the own organisation", action: "inventory.write", setup: func(t *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
			// The records it refers to are the person's organisation's.
			return webAuthzReq{path: "/inventory/" + kind, form: form(z.invRecordsIn(t, who.org.ID), z.next()), target: own(who)}
		}})
		add("/inventory/"+kind+"/{id}", webAuthzCase{name: "the hospital's record", action: "inventory.write", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			ids := z.invRecords(t)
			return webAuthzReq{path: "/inventory/" + kind + "/" + ids[kind], form: form(ids, z.next()), target: onA(z)}
		}})
		add("/inventory/"+kind+"/{id}/delete", webAuthzCase{name: "the hospital's record", action: "inventory.write", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			ids := z.invRecords(t)
			return webAuthzReq{path: "/inventory/" + kind + "/" + ids[kind] + "/delete", target: onA(z)}
		}})
	}
	pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	add("/inventory/systems/{id}/documents", webAuthzCase{name: "the hospital's system", action: "inventory.write", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		ids := z.invRecords(t)
		return webAuthzReq{path: "/inventory/systems/" + ids["systems"] + "/documents", form: url.Values{"kind": {"mds"}, "title": {"MDS"}},
			file: &webFile{"mds.pdf", pdf}, target: onA(z)}
	}})
	add("/inventory/documents/{id}/delete", webAuthzCase{name: "the hospital's document", action: "inventory.write", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		ids := z.invRecords(t)
		var doc string
		z.tx(t, func(ctx context.Context, tx *db.Tx) error {
			d, err := z.srv.Documents.Upload(ctx, tx, z.hosp.ID, z.admin.ID, inventory.DocumentInput{SystemID: ids["systems"], Kind: inventory.DocMDS, Title: "MDS", Filename: "mds.pdf"},
				strings.NewReader(string(pdf)), z.clock.Now())
			doc = d.ID
			return err
		})
		return webAuthzReq{path: "/inventory/documents/" + doc + "/delete", target: onA(z)}
	}})
	add("/inventory/import", webAuthzCase{name: "into the own register", action: "inventory.import", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/inventory/import", form: url.Values{}, file: &webFile{"台帳.csv", []byte(fmt.Sprintf("名称,種別\nPC-%d,PC\n", z.next()))}, target: own(who)}
	}})
	add("/inventory/import/apply", webAuthzCase{name: "the hospital's pending import", action: "inventory.import", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		r := z.signedIn(z.admin, z.hosp).multipartPost("/inventory/import", "file", "台帳.csv", []byte(fmt.Sprintf("名称,種別\nPC-%d,PC\n", z.next())), nil)
		m := hiddenToken.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || m == nil {
			t.Fatalf("no preview: %d", r.status)
		}
		return webAuthzReq{path: "/inventory/import/apply", form: url.Values{"token": {m[1]}, "filename": {"台帳.csv"}}, target: onA(z)}
	}})
	add("/inventory/systems/{id}/responsibilities", webAuthzCase{name: "the hospital's system", action: "inventory.write", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		ids := z.invRecords(t)
		return webAuthzReq{path: "/inventory/systems/" + ids["systems"] + "/responsibilities", form: url.Values{"duty.backup": {"vendor"}}, target: onA(z)}
	}})

	// Vulnerability watch.
	add("/vuln/findings/{id}/state", webAuthzCase{name: "the hospital's finding", action: "vuln.finding.state", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		_, f := z.finding(t)
		return webAuthzReq{path: "/vuln/findings/" + f + "/state", form: url.Values{"state": {"resolved"}}, target: onA(z)}
	}})
	add("/vuln/assets/{id}/identity", webAuthzCase{name: "the hospital's device", action: "vuln.identity.set", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		as, _ := z.finding(t)
		return webAuthzReq{path: "/vuln/assets/" + as + "/identity", form: url.Values{"cpe": {"cpe:2.3:o:fortinet:fortios:7.2.5"}}, target: onA(z)}
	}})
	add("/vuln/notifications/read", webAuthzCase{name: "own notifications", action: "vuln.notifications.read", setup: func(_ *testing.T, _ *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/vuln/notifications/read", target: own(who)}
	}})
	add("/vuln/webhook", webAuthzCase{name: "own webhook", action: "vuln.webhook", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/vuln/webhook", form: url.Values{"url": {fmt.Sprintf("https://hooks%d.example.jp/x", z.next())}}, target: own(who)}
	}})
	add("/vuln/aliases/vendor", webAuthzCase{name: "the service's table", action: "vuln.aliases.change", operatorPage: true, setup: func(_ *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/vuln/aliases/vendor", form: url.Values{"spelling": {fmt.Sprintf("ふぉーちねっと%d", z.next())}, "cpe": {"fortinet"}}}
	}})
	add("/vuln/aliases/upload", webAuthzCase{name: "the service's table", action: "vuln.aliases.change", operatorPage: true, setup: func(_ *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		f := match.DefaultAliases().File()
		for i := range f.Vendors {
			if f.Vendors[i].CPE == "fortinet" {
				f.Vendors[i].Names = append(f.Vendors[i].Names, fmt.Sprintf("ふぉーちねっと%d", z.next()))
			}
		}
		return webAuthzReq{path: "/vuln/aliases/upload", form: url.Values{}, file: &webFile{"aliases.json", match.EncodeAliases(f)}}
	}})
	add("/vuln/import", webAuthzCase{name: "a feed file for the service", action: "vuln.import", operatorPage: true, setup: func(t *testing.T, _ *webAuthz, _ *webPrincipal) webAuthzReq {
		b, err := os.ReadFile("../vuln/testdata/nvd/CVE-2022-42475.json")
		if err != nil {
			t.Fatal(err)
		}
		return webAuthzReq{path: "/vuln/import", form: url.Values{}, file: &webFile{"CVE-2022-42475.json", b}}
	}})
	add("/vuln/aliases/reset", webAuthzCase{name: "the service's table", action: "vuln.aliases.change", operatorPage: true, setup: func(_ *testing.T, _ *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/vuln/aliases/reset"}
	}})

	// Checklists.
	add("/assess/sheets", webAuthzCase{name: "own sheet", action: "assess.sheet.create", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/assess/sheets", form: url.Values{"edition": {"mhlw-r7-institution"}, "year": {fmt.Sprint(2027 + z.next()%60)}}, target: own(who)}
	}})
	add("/assess/sheets/{id}/items/{item}", webAuthzCase{name: "the hospital's sheet", action: "assess.answer.save", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		sh, _ := z.sheet(t, false, false)
		return webAuthzReq{path: "/assess/sheets/" + sh + "/items/has_system", form: url.Values{"answer1.": {"no"}, "date1.": {"2026-04-01"}}, target: onA(z)}
	}})
	add("/assess/sheets/{id}/items/{item}/evidence", webAuthzCase{name: "the hospital's sheet", action: "assess.evidence.add", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		sh, _ := z.sheet(t, false, false)
		return webAuthzReq{path: "/assess/sheets/" + sh + "/items/has_system/evidence", form: url.Values{"note": {"記録"}}, file: &webFile{"記録.txt", []byte("x\n")}, target: onA(z)}
	}})
	add("/assess/vendors/{id}/file", webAuthzCase{name: "the hospital's request", action: "assess.vendor.file", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/assess/vendors/" + z.vendorRequest(t, false) + "/file", form: url.Values{}, file: &webFile{"事業者確認用.pdf", pdf}, target: onA(z)}
	}})
	add("/assess/sheets/{id}/evidence/{ev}/delete", webAuthzCase{name: "the hospital's evidence", action: "assess.evidence.delete", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		sh, ev := z.sheet(t, false, false)
		return webAuthzReq{path: "/assess/sheets/" + sh + "/evidence/" + ev + "/delete", target: onA(z)}
	}})
	add("/assess/sheets/{id}/sign", webAuthzCase{name: "the hospital's complete sheet", action: "assess.sheet.sign", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		sh, _ := z.sheet(t, true, false)
		return webAuthzReq{path: "/assess/sheets/" + sh + "/sign", form: url.Values{"name": {"院長"}}, target: onA(z)}
	}})
	add("/assess/sheets/{id}/reopen", webAuthzCase{name: "the hospital's signed sheet", action: "assess.sheet.reopen", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		sh, _ := z.sheet(t, true, true)
		return webAuthzReq{path: "/assess/sheets/" + sh + "/reopen", target: onA(z)}
	}})
	add("/assess/sheets/{id}/share", webAuthzCase{name: "the hospital's sheet", action: "assess.sheet.share", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		sh, _ := z.sheet(t, true, true)
		return webAuthzReq{path: "/assess/sheets/" + sh + "/share", form: url.Values{"shared": {"1"}}, target: onA(z)}
	}})
	add("/assess/vendors", webAuthzCase{name: "a vendor of the own register", action: "assess.vendor.request", setup: func(t *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/assess/vendors", form: url.Values{"vendor": {z.vendorRecord(t, who.org.ID, true)}, "edition": {"mhlw-r7-vendor"}, "year": {"2026"}}, target: own(who)}
	}})
	add("/assess/vendors/{id}/remind", webAuthzCase{name: "the hospital's request", action: "assess.vendor.remind", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/assess/vendors/" + z.vendorRequest(t, false) + "/remind", target: onA(z)}
	}})
	add(assess.InboxPath+"/{id}/answer", webAuthzCase{name: "the hospital's request to the vendor", action: "assess.vendor.answer", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: assess.InboxPath + "/" + z.vendorRequest(t, true) + "/answer", target: auth.Target{OrgID: z.vendor.ID}}
	}})
	add("/assess/surveys", webAuthzCase{name: "a survey of the ISAC", action: "assess.survey.create", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/assess/surveys", form: url.Values{"title": {fmt.Sprintf("調査%d", z.next())}, "item": {"mhlw-r7-institution/patch"}, "kind": {"hospital"}}, target: own(who)}
	}})
	add("/assess/surveys/{id}/remind", webAuthzCase{name: "the ISAC's survey", action: "assess.survey.remind", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/assess/surveys/" + z.survey(t) + "/remind", target: auth.Target{OrgID: z.isac.ID}}
	}})
	add("/assess/surveys/{id}/close", webAuthzCase{name: "the ISAC's survey", action: "assess.survey.close", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/assess/surveys/" + z.survey(t) + "/close", target: auth.Target{OrgID: z.isac.ID}}
	}})
	add("/assess/surveys/{id}/respond", webAuthzCase{name: "the hospital's answer", action: "assess.survey.respond", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/assess/surveys/" + z.survey(t) + "/respond", form: url.Values{"value.offline.": {"no"}}, target: onA(z)}
	}})

	// Hospital groups.
	add("/org/groups", webAuthzCase{name: "own group", action: "group.create", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/org/groups", form: url.Values{"name": {fmt.Sprintf("新グループ%d", z.next())}}, target: own(who)}
	}})
	add("/org/groups/{id}/delete", webAuthzCase{name: "the hospital's group", action: "group.delete", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/org/groups/" + z.group(t, z.admin, nil, nil) + "/delete", target: onA(z)}
	}})
	add("/org/groups/{id}/invites", webAuthzCase{name: "the clinic into the hospital's group", action: "group.invite", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/org/groups/" + z.group(t, z.admin, nil, nil) + "/invites", form: url.Values{"ref": {z.clinic.ID}}, target: onA(z)}
	}})
	add("/org/groups/{id}/members/{org}/delete", webAuthzCase{name: "the clinic out of the hospital's group", action: "group.remove", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		g := z.group(t, z.admin, []string{z.clinic.ID}, []*auth.User{z.other})
		return webAuthzReq{path: "/org/groups/" + g + "/members/" + z.clinic.ID + "/delete", target: onA(z)}
	}})
	for _, verb := range []string{"accept", "decline"} {
		verb := verb
		add("/org/groups/{id}/"+verb, webAuthzCase{name: "the hospital's invitation", action: "group.accept", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			return webAuthzReq{path: "/org/groups/" + z.group(t, z.other, []string{z.hosp.ID}, nil) + "/" + verb, target: onA(z)}
		}})
	}
	add("/org/groups/{id}/leave", webAuthzCase{name: "the hospital leaves", action: "group.leave", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/org/groups/" + z.group(t, z.other, []string{z.hosp.ID}, []*auth.User{z.admin}) + "/leave", target: onA(z)}
	}})

	addOrgAdminShareCases(add)
	return c
}

// webNotWalked are the forms of the walked areas this walk does not send,
// with the reason.
var webNotWalked = map[string]string{
	"POST /inventory/import/nmap":                       "needs a preview made from an upload",
	"POST /inventory/import/cancel":                     "drops the person's own pending preview file and changes no record",
	"POST /assess/sheets/{id}/items/{item}/hints/{key}": "needs an inventory-derived hint",
	"POST /vuln/aliases/product":                        "same check as /vuln/aliases/vendor",
	"POST /vuln/aliases/rename":                         "same check as /vuln/aliases/vendor",
	"POST /vuln/aliases/remove":                         "same check as /vuln/aliases/vendor",
	"POST /vuln/aliases/restore":                        "same check as /vuln/aliases/vendor",
	"POST /org/switch":                                  "moves the person's own session to another organisation they belong to and changes nothing of any organisation",
}

// webWalkedPrefixes are the areas whose forms the walk must know.
var webWalkedPrefixes = []string{"/inventory", "/vuln", "/assess", "/org", "/admin", "/share"}

// webPostRoutes lists the POST patterns of the walked areas in the route
// table.
func webPostRoutes(t *testing.T, s *Server) []string {
	var out []string
	for _, rt := range s.routeTable() {
		for _, p := range webWalkedPrefixes {
			if strings.HasPrefix(rt.pattern, "POST "+p) {
				out = append(out, rt.pattern)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("the route table has no POST route of the walked areas")
	}
	sort.Strings(out)
	return out
}

// webAuthzWant is the status the table asks for: 0 for success, and
// whether 403 will do instead of 404: another organisation's object
// answers 404 like a missing one, but a person who may never do the action
// may be refused before the object is looked at, which tells nothing
// about it.
func webAuthzWant(p *auth.Principal, c webAuthzCase, t auth.Target) (int, bool) {
	if c.operatorPage && !p.IsOperator() {
		// The operators' pages do not exist for members, even where the
		// table lets a member do the action to its own organisation (its
		// admins change its record on /org, walked there).
		return http.StatusNotFound, false
	}
	if auth.Allowed(p, c.action, t) {
		return 0, false
	}
	if p.IsOperator() && strings.HasPrefix(c.action, "org.update") && t.OrgID != "" && t.OrgID != p.OrgID {
		// Operators see every organisation's record, so refusing them a
		// field of it may say so (as in the API's walk).
		return http.StatusNotFound, true
	}
	if t.OrgID == "" || t.OrgID == p.OrgID {
		return http.StatusForbidden, false
	}
	return http.StatusNotFound, !auth.Allowed(p, c.action, auth.Target{OrgID: p.OrgID, AuthorID: p.UserID})
}

// TestWebAuthorizationTable walks the forms against the permission table.
func TestWebAuthorizationTable(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		z := newWebAuthz(t, d)
		cases := webAuthzCases()
		routes := webPostRoutes(t, z.srv)
		if len(routes) < 40 {
			t.Fatalf("found only %d forms", len(routes))
		}
		known := map[string]bool{}
		type cell struct{ got, want string }
		matrix := map[string]map[string]cell{}
		outside := 0
		for _, key := range routes {
			known[key] = true
			cs, ok := cases[key]
			if !ok {
				if _, skip := webNotWalked[key]; !skip {
					t.Errorf("form %s has no case in webAuthzCases", key)
				}
				continue
			}
			for _, c := range cs {
				if _, ok := auth.RuleOf(c.action); !ok {
					t.Errorf("%s: action %q is not in the permission table", key, c.action)
					continue
				}
				row := key + " | " + c.name + " [" + c.action + "]"
				matrix[row] = map[string]cell{}
				for _, who := range z.principals {
					req := c.setup(t, z, who)
					cl := z.signedIn(who.u, who.org)
					var r resp
					if req.file != nil {
						fields := map[string]string{}
						for k := range req.form {
							fields[k] = req.form.Get(k)
						}
						r = cl.multipartPost(req.path, "file", req.file.name, req.file.data, fields)
					} else {
						r = cl.post(req.path, req.form)
					}
					if req.after != nil {
						req.after(t)
					}
					want, or403 := webAuthzWant(who.p, c, req.target)
					ok := r.status == http.StatusSeeOther || r.status >= 200 && r.status < 300
					wantS := "ok"
					if want != 0 {
						wantS = fmt.Sprint(want)
					}
					if or403 {
						wantS = "404|403"
					}
					matrix[row][who.name] = cell{fmt.Sprint(r.status), wantS}
					if ok && want != 0 {
						outside++
					}
					if (want == 0 && ok) || (want != 0 && r.status == want) || (or403 && r.status == http.StatusForbidden) {
						continue
					}
					body := r.body
					if i := strings.Index(body, `role="alert"`); i >= 0 {
						body = body[i:min(len(body), i+300)]
					} else if len(body) > 300 {
						body = body[:300]
					}
					t.Errorf("%s as %s: got %d (Location %q), want %s: %s", row, who.name, r.status, r.loc(), wantS, body)
				}
			}
		}
		for key := range cases {
			if !known[key] {
				t.Errorf("webAuthzCases lists %s, which is not a form", key)
			}
		}
		for key := range webNotWalked {
			if !known[key] {
				t.Errorf("webNotWalked lists %s, which is not a form", key)
			}
		}
		t.Logf("permitted outside the table (pages): %d", outside)
		if outside != 0 {
			t.Errorf("permitted outside the table (pages): %d", outside)
		}
		if t.Failed() {
			var rows []string
			for r := range matrix {
				rows = append(rows, r)
			}
			sort.Strings(rows)
			var b strings.Builder
			b.WriteString("form | " + strings.Join(webAuthzNames, " | ") + "\n")
			for _, r := range rows {
				b.WriteString(r)
				for _, n := range webAuthzNames {
					c := matrix[r][n]
					mark := ""
					if (c.want == "ok") != (c.got == "303" || strings.HasPrefix(c.got, "2")) || c.want != "ok" && !strings.Contains(c.want, c.got) {
						mark = " ✗"
					}
					b.WriteString(" | " + c.got + "/" + c.want + mark)
				}
				b.WriteString("\n")
			}
			t.Log("\n" + b.String())
		}
	})
}
