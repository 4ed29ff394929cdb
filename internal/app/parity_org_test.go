package app

import (
	"fmt"
	"net/url"
	"strconv"
	"sync/atomic"

	"github.com/medisac/medisac/internal/auth"
)

func init() {
	beds := 100
	nextBeds := func() string { beds++; return strconv.Itoa(beds) }
	var seq atomic.Int64
	email := func(prefix string) string { return fmt.Sprintf("%s%d@parity.example.jp", prefix, seq.Add(1)) }
	// orgForm is the organisation form with the current values of id.
	orgForm := func(w *parityWorld, id string) url.Values {
		o, err := auth.GetOrg(w.ctx, w.DB(), &auth.Principal{OrgID: id}, id)
		if err != nil {
			w.t.Fatal(err)
		}
		f := url.Values{"name": {o.Name}, "name_kana": {o.NameKana}, "kind": {string(o.Kind)}, "prefecture": {o.Prefecture},
			"medical_code": {o.MedicalCode}, "mfa_policy": {string(o.MFAPolicy)}}
		if o.Beds != nil {
			f.Set("beds", strconv.Itoa(*o.Beds))
		}
		return f
	}
	// editOrg is the web door that sends the organisation form of the
	// case's object with key set to value(): on the member's own page
	// (/org) or on the operators' (/admin/orgs/<id>, which has no MFA
	// field).
	editOrg := func(operator bool, key string, value func() string) parityDoor {
		return func(w *parityWorld, obj string) string {
			f := orgForm(w, obj)
			page := "/org"
			if operator {
				f.Del("mfa_policy")
				page = "/admin/orgs/" + obj
			}
			f.Set(key, value())
			w.Form(page, page, f)
			return obj
		}
	}
	fixed := func(v string) func() string { return func() string { return v } }
	apiBeds := func(w *parityWorld, obj string) string {
		n, _ := strconv.Atoi(nextBeds())
		w.Call("PATCH", "/api/v1/orgs/"+obj, map[string]any{"beds": n}, nil)
		return obj
	}
	newClinic := func(w *parityWorld) string {
		o, err := auth.CreateOrg(w.ctx, w.DB(), auth.OrgInput{Kind: auth.KindClinic, Name: "同一記録診療所", Prefecture: "東京都"}, w.now)
		if err != nil {
			w.t.Fatal(err)
		}
		return o.ID
	}
	newStaff := func(w *parityWorld) string {
		u, err := auth.CreateUser(w.ctx, w.DB(), auth.NewUser{Email: email("staff"), DisplayName: "職員", Lang: "ja"}, w.now)
		if err != nil {
			w.t.Fatal(err)
		}
		if err := auth.AddMember(w.ctx, w.DB(), w.Hospital, u.ID, auth.RoleStaff, w.now); err != nil {
			w.t.Fatal(err)
		}
		return u.ID
	}
	lastProposal := func(w *parityWorld) string {
		var id string
		if err := w.DB().QueryRow(w.ctx, `SELECT id FROM org_proposals ORDER BY created_at DESC, id DESC LIMIT 1`).Scan(&id); err != nil {
			w.t.Fatal(err)
		}
		return id
	}

	parityCases = append(parityCases,
		parityCase{
			Name: "org.update by the member's admin", Rule: "org.update", As: "hospital_admin",
			Setup: parityHospital,
			Web:   editOrg(false, "beds", nextBeds),
			API:   apiBeds,
		},
		parityCase{
			// The example: an operator edits a member's record.
			Name: "org.update by an ISAC operator on a member", Rule: "org.update", As: "isac_admin",
			Setup: parityHospital,
			Web:   editOrg(true, "beds", nextBeds),
			API:   apiBeds,
		},
		parityCase{
			Name: "org.update.kind by an ISAC operator", Rule: "org.update.kind", As: "isac_admin",
			Setup: newClinic,
			Web:   editOrg(true, "kind", fixed("pharmacy")),
			API:   apiCall("PATCH", "/api/v1/orgs/{obj}", map[string]any{"kind": "pharmacy"}),
		},
		parityCase{
			Name: "org.update.mfa_policy by the member's admin", Rule: "org.update.mfa_policy", As: "hospital_admin",
			Setup: parityHospital,
			Web:   editOrg(false, "mfa_policy", fixed("everyone")),
			API: func(w *parityWorld, obj string) string {
				// Back to admins first, unrecorded, so the change is the same.
				if _, err := w.DB().Exec(w.ctx, `UPDATE organizations SET mfa_policy = 'admins' WHERE id = ?`, obj); err != nil {
					w.t.Fatal(err)
				}
				return apiCall("PATCH", "/api/v1/orgs/{obj}", map[string]any{"mfa_policy": "everyone"})(w, obj)
			},
		},
		parityCase{
			Name: "org.create by an ISAC operator", Rule: "org.create", As: "isac_admin",
			Web: webCreate("/admin/orgs", "/admin/orgs", url.Values{"kind": {"clinic"}, "name": {"新規診療所"}, "mfa_policy": {"admins"}}),
			API: func(w *parityWorld, _ string) string {
				var out struct {
					Org auth.Org `json:"org"`
				}
				w.Call("POST", "/api/v1/orgs", map[string]any{"kind": "clinic", "name": "新規診療所"}, &out)
				return out.Org.ID
			},
		},
		parityCase{
			Name: "org.invite by the member's admin", Rule: "org.invite", As: "hospital_admin",
			Web: func(w *parityWorld, _ string) string {
				e := email("inv")
				w.Form("/org", "/org/invites", url.Values{"email": {e}, "role": {"staff"}})
				return e
			},
			API: func(w *parityWorld, _ string) string {
				e := email("inv")
				w.Call("POST", "/api/v1/orgs/"+w.Hospital+"/invitations", map[string]any{"email": e, "role": "staff"}, nil)
				return e
			},
		},
		parityCase{
			Name: "org.invite.first by an ISAC operator", Rule: "org.invite.first", As: "isac_admin",
			Setup: newClinic,
			Web:   webForm("/admin/orgs/{obj}", "/admin/orgs/{obj}/invites", url.Values{"email": {"first@parity.example.jp"}}),
			API:   apiCall("POST", "/api/v1/orgs/{obj}/invitations", map[string]any{"email": "first@parity.example.jp", "role": "admin"}),
		},
		parityCase{
			Name: "org.proposal by an ISAC operator", Rule: "org.proposal", As: "isac_admin",
			Web: func(w *parityWorld, _ string) string {
				w.Form("/admin/orgs/"+w.Hospital, "/admin/orgs/"+w.Hospital+"/invites", url.Values{"email": {email("prop")}})
				return lastProposal(w)
			},
			API: func(w *parityWorld, _ string) string {
				w.Call("POST", "/api/v1/orgs/"+w.Hospital+"/invitations", map[string]any{"email": email("prop"), "role": "admin"}, nil)
				return lastProposal(w)
			},
		},
		parityCase{
			Name: "org.proposal.answer by the member's admin", Rule: "org.proposal.answer", As: "hospital_admin",
			Setup: func(w *parityWorld) string {
				inv, err := auth.Invite(w.ctx, w.DB(), nil, w.principal("isac_admin"), w.Hospital, auth.InviteInput{Email: email("prop"), Role: auth.RoleStaff}, w.now)
				if err != nil || inv.Proposal == nil {
					w.t.Fatalf("proposal: %v %+v", err, inv)
				}
				return inv.Proposal.ID
			},
			Web: webForm("/org", "/org/proposals/{obj}/decline", nil),
			API: apiCall("POST", "/api/v1/orgs/{hospital}/proposals/{obj}/decline", nil),
		},
		parityCase{
			Name: "org.invite.revoke by the member's admin", Rule: "org.invite.revoke", As: "hospital_admin",
			Setup: func(w *parityWorld) string {
				e := email("rev")
				if _, err := auth.Invite(w.ctx, w.DB(), nil, w.principal("hospital_admin"), w.Hospital, auth.InviteInput{Email: e, Role: auth.RoleStaff}, w.now); err != nil {
					w.t.Fatal(err)
				}
				return e
			},
			// The object is an address: url.PathEscape leaves it as it is.
			Web: webForm("/org", "/org/invites/revoke", url.Values{"email": {"{obj}"}}),
			API: apiCall("DELETE", "/api/v1/orgs/{hospital}/invitations/{obj}", nil),
		},
		parityCase{
			Name: "org.member.role by the member's admin", Rule: "org.member.role", As: "hospital_admin",
			Setup: newStaff,
			Web:   webForm("/org", "/org/members/{obj}/role", url.Values{"role": {"auditor"}}),
			API:   apiCall("PATCH", "/api/v1/orgs/{hospital}/members/{obj}", map[string]any{"role": "auditor"}),
		},
		parityCase{
			Name: "org.member.remove by the member's admin", Rule: "org.member.remove", As: "hospital_admin",
			Setup: newStaff,
			Web:   webForm("/org", "/org/members/{obj}/delete", nil),
			API:   apiCall("DELETE", "/api/v1/orgs/{hospital}/members/{obj}", nil),
		},
		parityCase{
			Name: "auth.token.revoke by its owner", Rule: "auth.token.revoke", As: "hospital_admin",
			Setup: func(w *parityWorld) string {
				u := w.users["hospital_admin"]
				_, t, err := auth.CreateToken(w.ctx, w.DB(), u.ID, u.OrgID, "spare", false, nil, w.now)
				if err != nil {
					w.t.Fatal(err)
				}
				return t.ID
			},
			Web: webForm("/account", "/account/tokens/{obj}/delete", nil),
			API: apiCall("DELETE", "/api/v1/tokens/{obj}", nil),
		},
	)
}
