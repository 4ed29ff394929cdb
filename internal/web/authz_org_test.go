package web

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/share"
	"github.com/medisac/medisac/internal/testkit/fresh"
	"github.com/medisac/medisac/internal/testkit/seed"
)

// The organisation, operator and sharing-hub forms of the authorization
// walk. The "/account" forms are not walked: they change the signed-in
// person's own account only (password, profile, second factors, passkeys,
// tokens, sessions), every principal may use them on itself, and no form
// names another person or an organisation's object to aim them at.

// orgForm is the organisation form of org id filled with its current
// values, as the page shows it; change edits one field.
func (z *webAuthz) orgForm(t *testing.T, id string, change func(o *auth.Org, f url.Values)) url.Values {
	o, err := auth.GetOrg(bg, z.d, &auth.Principal{OrgID: id}, id)
	if err != nil {
		t.Fatal(err)
	}
	f := orgFormValues(o)
	change(o, f)
	return f
}

// newBeds is a bed count other than the organisation's.
func (z *webAuthz) newBeds(o *auth.Org, f url.Values) {
	n := 100 + z.next()
	if o.Beds != nil && *o.Beds == n {
		n++
	}
	f.Set("beds", strconv.Itoa(n))
}

// otherPolicy sets the sign-in policy other than the organisation's.
func otherPolicy(o *auth.Org, f url.Values) {
	pol := auth.MFAEveryone
	if o.MFAPolicy == auth.MFAEveryone {
		pol = auth.MFAAdmins
	}
	f.Set("mfa_policy", string(pol))
}

// freshOrg is a new hospital without members.
func (z *webAuthz) freshOrg(t *testing.T) *auth.Org {
	n := z.next()
	return z.mustOrg(auth.OrgInput{Kind: auth.KindHospital, Name: fmt.Sprintf("新設病院%d", n), NameKana: "シンセツビョウイン", Prefecture: "東京都"})
}

// freshMember is a new staff member of the hospital.
func (z *webAuthz) freshMember(t *testing.T) string {
	u, err := auth.CreateUser(bg, z.d, auth.NewUser{Email: fmt.Sprintf("member%d@kitamachi-hp.jp", z.next()), DisplayName: "職員"}, z.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.AddMember(bg, z.d, z.hosp.ID, u.ID, auth.RoleStaff, z.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// pendingInvite is a pending invitation into the hospital; it returns the
// address.
func (z *webAuthz) pendingInvite(t *testing.T) string {
	email := fmt.Sprintf("pending%d@kitamachi-hp.jp", z.next())
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		_, err := auth.Invite(ctx, tx, nil, z.principal(z.admin), z.hosp.ID, auth.InviteInput{Email: email, Role: auth.RoleStaff}, z.clock.Now())
		return err
	})
	return email
}

// proposal is the ISAC's proposal to add someone to the hospital.
func (z *webAuthz) proposal(t *testing.T) string {
	var id string
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		inv, err := auth.Invite(ctx, tx, nil, z.principal(z.oper), z.hosp.ID, auth.InviteInput{Email: fmt.Sprintf("proposed%d@kitamachi-hp.jp", z.next()), Role: auth.RoleStaff}, z.clock.Now())
		if err != nil {
			return err
		}
		if inv.Proposal == nil {
			return fmt.Errorf("the ISAC's invitation into the hospital made no proposal")
		}
		id = inv.Proposal.ID
		return nil
	})
	return id
}

// failedJob is a background job that failed.
func (z *webAuthz) failedJob(t *testing.T) string {
	id, err := z.srv.Queue.Enqueue(bg, z.d, "web.authz.test", map[string]int{"n": z.next()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.d.Exec(bg, `UPDATE jobs SET state = 'failed', attempts = max_attempts, last_error = 'x' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// post is a TLP:AMBER post of the hospital written by its staff member,
// and its indicator.
func (z *webAuthz) post(t *testing.T) (string, string) { return z.postBy(t, z.staff) }

// postBy is a TLP:AMBER post of the hospital written by author, and its
// indicator.
func (z *webAuthz) postBy(t *testing.T, author *auth.User) (string, string) {
	return fresh.IncidentPost(t, z.d, share.ViewerOf(z.principal(author)), z.next(), z.clock.Now())
}

// shareGroup is a customers group of the hospital.
func (z *webAuthz) shareGroup(t *testing.T) string {
	return seed.Group(t, z.d, share.ViewerOf(z.principal(z.admin)), fmt.Sprintf("取引先%d", z.next()), share.GroupCustomers, z.clock.Now())
}

// vendorGroupInvitingHospital is a customers group of the vendor that has
// invited the hospital, waiting for its answer.
func (z *webAuthz) vendorGroupInvitingHospital(t *testing.T) string {
	return seed.Group(t, z.d, share.ViewerOf(z.principal(z.vendorAdmin)), fmt.Sprintf("顧客%d", z.next()), share.GroupCustomers, z.clock.Now(), z.hosp.ID)
}

// warning is an ISAC-added entry of a warning list.
func (z *webAuthz) warning(t *testing.T) string {
	var id string
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		w, err := share.AddWarning(ctx, tx, share.ViewerOf(z.principal(z.oper)), "検査用", "domain", fmt.Sprintf("benign%d.example.jp", z.next()), z.clock.Now())
		if err == nil {
			id = w.ID
		}
		return err
	})
	return id
}

// feed is a TAXII feed of the hospital registered by its admin.
func (z *webAuthz) feed(t *testing.T) string {
	var id string
	z.tx(t, func(ctx context.Context, tx *db.Tx) error {
		f, err := share.AddFeed(ctx, tx, share.ViewerOf(z.principal(z.oper)), "地域ISAC", fmt.Sprintf("https://taxii%d.example.jp/api1/collections/c1/objects/", z.next()), "", "tok", share.TLPGreen, 60, z.clock.Now())
		if err == nil {
			id = f.ID
		}
		return err
	})
	return id
}

// stixBundle is a small STIX 2.1 bundle with one GREEN indicator.
func stixBundle(n int) []byte {
	return []byte(fmt.Sprintf(`{"type":"bundle","id":"bundle--6b4e1b0b-0a0e-4e5c-9b8f-%012d","objects":[{"type":"indicator","spec_version":"2.1",
"id":"indicator--0b7b6f0e-8f7b-4c1a-9a8e-%012d","created":"2026-03-01T00:00:00Z","modified":"2026-03-01T00:00:00Z",
"name":"C2","pattern":"[ipv4-addr:value = '203.0.113.%d']","pattern_type":"stix","valid_from":"2026-03-01T00:00:00Z",
"object_marking_refs":["%s"]}]}`, n, n, n%250+1, share.TLPGreen.MarkingID()))
}

// addOrgAdminShareCases adds the forms of the organisation page, the
// operators' pages and the sharing hub.
func addOrgAdminShareCases(add func(pattern string, cs ...webAuthzCase)) {
	onA := func(z *webAuthz) auth.Target { return auth.Target{OrgID: z.hosp.ID} }
	own := func(who *webPrincipal) auth.Target { return auth.Target{OrgID: who.org.ID} }

	// The organisation page works on the person's own organisation.
	add("/org",
		webAuthzCase{name: "own record", action: "org.update", setup: func(t *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
			return webAuthzReq{path: "/org", form: z.orgForm(t, who.org.ID, z.newBeds), target: own(who)}
		}},
		webAuthzCase{name: "own kind", action: "org.update.kind", setup: func(t *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
			req := webAuthzReq{path: "/org", target: own(who)}
			req.form = z.orgForm(t, who.org.ID, func(o *auth.Org, f url.Values) {
				k := auth.KindClinic
				if o.Kind == auth.KindClinic {
					k = auth.KindHospital
				}
				f.Set("kind", string(k))
			})
			if who.org.ID == z.isac.ID {
				// The ISAC may give up its kind only while another ISAC
				// remains; it gets it back after the request.
				z.secondISAC(t)
				req.after = func(t *testing.T) {
					if _, err := z.d.Exec(bg, `UPDATE organizations SET kind = 'isac' WHERE id = ?`, z.isac.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
			return req
		}},
		webAuthzCase{name: "own sign-in policy", action: "org.update.mfa_policy", setup: func(t *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
			return webAuthzReq{path: "/org", form: z.orgForm(t, who.org.ID, func(o *auth.Org, f url.Values) { otherPolicy(o, f) }), target: own(who)}
		}})
	add("/org/invites", webAuthzCase{name: "into the own organisation", action: "org.invite", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/org/invites", form: url.Values{"email": {fmt.Sprintf("new%d@example.jp", z.next())}, "role": {"staff"}, "lang": {"ja"}}, target: own(who)}
	}})
	add("/org/invites/revoke", webAuthzCase{name: "the hospital's invitation", action: "org.invite.revoke", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/org/invites/revoke", form: url.Values{"email": {z.pendingInvite(t)}}, target: onA(z)}
	}})
	for _, verb := range []string{"accept", "decline"} {
		verb := verb
		add("/org/proposals/{id}/"+verb, webAuthzCase{name: "the ISAC's proposal into the hospital", action: "org.proposal.answer", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			return webAuthzReq{path: "/org/proposals/" + z.proposal(t) + "/" + verb, target: onA(z)}
		}})
	}
	add("/org/members/{user}/role", webAuthzCase{name: "the hospital's staff member", action: "org.member.role", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/org/members/" + z.freshMember(t) + "/role", form: url.Values{"role": {"auditor"}}, target: onA(z)}
	}})
	add("/org/members/{user}/delete", webAuthzCase{name: "the hospital's staff member", action: "org.member.remove", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/org/members/" + z.freshMember(t) + "/delete", target: onA(z)}
	}})

	// The operators' pages.
	add("/admin/orgs", webAuthzCase{name: "a new hospital", action: "org.create", operatorPage: true, setup: func(_ *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/admin/orgs", form: url.Values{"kind": {"hospital"}, "name": {fmt.Sprintf("登録病院%d", z.next())}, "name_kana": {"トウロクビョウイン"},
			"prefecture": {"東京都"}, "mfa_policy": {"admins"}}}
	}})
	add("/admin/orgs/{id}",
		webAuthzCase{name: "the hospital's record", action: "org.update", operatorPage: true, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			return webAuthzReq{path: "/admin/orgs/" + z.hosp.ID, form: z.orgForm(t, z.hosp.ID, z.newBeds), target: onA(z)}
		}},
		webAuthzCase{name: "a hospital's kind", action: "org.update.kind", operatorPage: true, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			// A fresh hospital, so that a change of kind leaves the
			// hospital alone.
			o := z.freshOrg(t)
			return webAuthzReq{path: "/admin/orgs/" + o.ID, form: z.orgForm(t, o.ID, func(_ *auth.Org, f url.Values) { f.Set("kind", "clinic") }), target: auth.Target{OrgID: o.ID}}
		}},
		webAuthzCase{name: "the hospital's sign-in policy", action: "org.update.mfa_policy", operatorPage: true, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			return webAuthzReq{path: "/admin/orgs/" + z.hosp.ID, form: z.orgForm(t, z.hosp.ID, func(o *auth.Org, f url.Values) { otherPolicy(o, f) }), target: onA(z)}
		}})
	add("/admin/orgs/{id}/invites",
		webAuthzCase{name: "the first admin of a new hospital", action: "org.invite.first", operatorPage: true, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			o := z.freshOrg(t)
			return webAuthzReq{path: "/admin/orgs/" + o.ID + "/invites", form: url.Values{"email": {fmt.Sprintf("first%d@example.jp", z.next())}, "lang": {"ja"}}, target: auth.Target{OrgID: o.ID}}
		}},
		webAuthzCase{name: "an admin into the hospital (its admins answer)", action: "org.proposal", operatorPage: true, setup: func(_ *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			return webAuthzReq{path: "/admin/orgs/" + z.hosp.ID + "/invites", form: url.Values{"email": {fmt.Sprintf("proposal%d@kitamachi-hp.jp", z.next())}, "lang": {"ja"}}, target: onA(z)}
		}})
	add("/admin/jobs/{id}/retry", webAuthzCase{name: "a failed job of the service", action: "settings.job.retry", operatorPage: true, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/admin/jobs/" + z.failedJob(t) + "/retry"}
	}})

	// The sharing hub works in the person's own organisation.
	staffPost := func(z *webAuthz) auth.Target { return auth.Target{OrgID: z.hosp.ID, AuthorID: z.staff.ID} }
	onPost := func(action, suffix string, form url.Values) webAuthzCase {
		return webAuthzCase{name: "the hospital staff's post", action: action, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			p, _ := z.post(t)
			f := url.Values{}
			for k, v := range form {
				f[k] = append([]string(nil), v...)
			}
			return webAuthzReq{path: "/share/posts/" + p + suffix, form: f, target: staffPost(z)}
		}}
	}
	add("/share/new", webAuthzCase{name: "own post", action: "share.post.create", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/new", form: url.Values{"kind": {"advisory"}, "tlp": {"green"}, "title": {fmt.Sprintf("注意喚起%d", z.next())}, "body": {"本文"}}, target: own(who)}
	}})
	// The same forms on the admin's post: the staff member is not its
	// author.
	adminPost := func(action, suffix string, form func(z *webAuthz) url.Values) webAuthzCase {
		return webAuthzCase{name: "the hospital admin's post", action: action, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			p, _ := z.postBy(t, z.admin)
			return webAuthzReq{path: "/share/posts/" + p + suffix, form: form(z), target: auth.Target{OrgID: z.hosp.ID, AuthorID: z.admin.ID}}
		}}
	}
	add("/share/posts/{id}/label", onPost("share.post.label", "/label", url.Values{"tlp": {"green"}}),
		adminPost("share.post.label", "/label", func(*webAuthz) url.Values { return url.Values{"tlp": {"green"}} }))
	add("/share/posts/{id}/delete", onPost("share.post.delete", "/delete", nil),
		adminPost("share.post.delete", "/delete", func(*webAuthz) url.Values { return nil }))
	add("/share/posts/{id}/recipients", adminPost("share.post.recipients", "/recipients", func(z *webAuthz) url.Values {
		return url.Values{"recipient_orgs": {z.clinic.ID}}
	}))
	add("/share/posts/{id}/comments", onPost("share.comment", "/comments", url.Values{"body": {"確認しました"}}))
	add("/share/posts/{id}/respond", onPost("share.response", "/respond", url.Values{"status": {"affected"}}))
	add("/share/posts/{id}/recipients", webAuthzCase{name: "the hospital staff's post", action: "share.post.recipients", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		p, _ := z.post(t)
		return webAuthzReq{path: "/share/posts/" + p + "/recipients", form: url.Values{"recipient_orgs": {z.clinic.ID}}, target: staffPost(z)}
	}})
	add("/share/indicators/{id}/sighting", webAuthzCase{name: "the hospital's indicator", action: "share.sighting", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		p, ind := z.post(t)
		return webAuthzReq{path: "/share/indicators/" + ind + "/sighting", form: url.Values{"post": {p}}, target: onA(z)}
	}})
	add("/share/groups", webAuthzCase{name: "own customers group", action: "share.group.create", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/groups", form: url.Values{"name": {fmt.Sprintf("取引先%d", z.next())}, "kind": {"customers"}}, target: own(who)}
	}})
	add("/share/groups/{id}/members",
		webAuthzCase{name: "the clinic into the hospital's group", action: "share.group.member", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			return webAuthzReq{path: "/share/groups/" + z.shareGroup(t) + "/members", form: url.Values{"org_id": {z.clinic.ID}}, target: onA(z)}
		}},
		webAuthzCase{name: "the clinic out of the hospital's group", action: "share.group.member", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			g := z.shareGroup(t)
			z.tx(t, func(ctx context.Context, tx *db.Tx) error {
				_, err := share.SetGroupMember(ctx, tx, share.ViewerOf(z.principal(z.admin)), g, z.clinic.ID, false, z.clock.Now())
				return err
			})
			return webAuthzReq{path: "/share/groups/" + g + "/members", form: url.Values{"org_id": {z.clinic.ID}, "remove": {"1"}}, target: onA(z)}
		}})
	for _, answer := range []string{"accept", "decline"} {
		answer := answer
		add("/share/groups/{id}/answer", webAuthzCase{name: "the vendor's invitation of the hospital: " + answer, action: "share.group.accept", setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
			return webAuthzReq{path: "/share/groups/" + z.vendorGroupInvitingHospital(t) + "/answer", form: url.Values{"answer": {answer}}, target: onA(z)}
		}})
	}
	add("/share/import", webAuthzCase{name: "a bundle into the own organisation", action: "share.import", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/import", form: url.Values{"tlp": {"amber"}}, file: &webFile{"bundle.json", stixBundle(z.next())}, target: own(who)}
	}})
	add("/share/settings", webAuthzCase{name: "own notification settings", action: "share.subscription", setup: func(_ *testing.T, _ *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/settings", form: url.Values{"immediate_tlp": {"red"}, "digest": {"1"}}, target: auth.Target{UserID: who.u.ID}}
	}})
	add("/share/settings/webhook", webAuthzCase{name: "own webhook", action: "share.webhook", setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/settings/webhook", form: url.Values{"url": {fmt.Sprintf("https://hook%d.example.jp/", z.next())}, "secret": {"0123456789abcdef"}}, target: own(who)}
	}})
	add("/share/feeds", webAuthzCase{name: "own feed", action: "share.feed.add", operatorPage: true, setup: func(_ *testing.T, z *webAuthz, who *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/feeds", form: url.Values{"title": {"地域ISAC"}, "objects_url": {fmt.Sprintf("https://taxii%d.example.jp/api1/collections/c1/objects/", z.next())},
			"tlp": {"green"}, "interval": {"60"}, "secret": {"tok"}}, target: own(who)}
	}})
	add("/share/feeds/{id}/delete", webAuthzCase{name: "the ISAC's feed", action: "share.feed.delete", operatorPage: true, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/feeds/" + z.feed(t) + "/delete", target: auth.Target{OrgID: z.isac.ID}}
	}})
	add("/share/warnings", webAuthzCase{name: "the service's warning lists", action: "share.warning.add", operatorPage: true, setup: func(_ *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/warnings", form: url.Values{"list": {"検査用"}, "type": {"domain"}, "value": {fmt.Sprintf("benign-new%d.example.jp", z.next())}}}
	}})
	add("/share/warnings/{id}/toggle", webAuthzCase{name: "an entry of the service's lists", action: "share.warning.toggle", operatorPage: true, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/warnings/" + z.warning(t) + "/toggle", form: url.Values{"disabled": {"1"}}}
	}})
	add("/share/warnings/{id}/delete", webAuthzCase{name: "an entry of the service's lists", action: "share.warning.delete", operatorPage: true, setup: func(t *testing.T, z *webAuthz, _ *webPrincipal) webAuthzReq {
		return webAuthzReq{path: "/share/warnings/" + z.warning(t) + "/delete"}
	}})
}

// secondISAC makes sure another ISAC operator exists besides the ISAC.
func (z *webAuthz) secondISAC(t *testing.T) {
	if z.isac2 != nil {
		return
	}
	z.isac2 = z.mustOrg(auth.OrgInput{Kind: auth.KindISAC, Name: "第二事務局", NameKana: "ダイニジムキョク"})
}
