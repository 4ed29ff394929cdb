package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// groupIsolationCases gives organisation A a hospital group with A itself
// as member and aims every group route at it as B's admin.
func groupIsolationCases(f *fixture) map[string][]isoCase {
	ctx := context.Background()
	p, err := auth.PrincipalForToken(ctx, f.d, f.adminA.write, f.clock.Now())
	if err != nil {
		panic(err)
	}
	g, err := auth.CreateGroup(ctx, f.d, p, "A秘密グループ", f.clock.Now())
	if err != nil {
		panic(err)
	}
	if _, err := auth.InviteToGroup(ctx, f.d, p, g.ID, f.orgA.ID, f.clock.Now()); err != nil {
		panic(err)
	}
	f.secretsA = append(f.secretsA, g.ID, "A秘密グループ")
	base := "/api/v1/groups/" + g.ID
	return map[string][]isoCase{
		"GET /api/v1/groups":  {{name: "own groups", path: "/api/v1/groups", collection: true}},
		"POST /api/v1/groups": {{name: "own group", path: "/api/v1/groups", body: `{"name":"Bのグループ"}`, collection: true, status: http.StatusCreated}},
		"GET /api/v1/groups/{group}": {
			{name: "A's group", path: base},
		},
		"DELETE /api/v1/groups/{group}": {{name: "A's group", path: base}},
		"POST /api/v1/groups/{group}/invitations": {
			{name: "B into A's group", path: base + "/invitations", body: `{"ref":"` + f.orgB.ID + `"}`},
			{name: "bad body into A's group", path: base + "/invitations", body: `{"ref":5}`},
		},
		"DELETE /api/v1/groups/{group}/members/{org}": {
			{name: "A from A's group", path: base + "/members/" + f.orgA.ID},
			{name: "B from A's group", path: base + "/members/" + f.orgB.ID},
		},
		"POST /api/v1/groups/{group}/membership": {
			{name: "accept A's group uninvited", path: base + "/membership", body: `{"accept":true}`},
			{name: "decline A's group uninvited", path: base + "/membership", body: `{"accept":false}`},
		},
		"DELETE /api/v1/groups/{group}/membership": {{name: "leave A's group", path: base + "/membership"}},
		"GET /api/v1/groups/{group}/assess/overview": {
			{name: "A's group", path: base + "/assess/overview"},
			{name: "A's group with a bad year", path: base + "/assess/overview?year=1"},
		},
	}
}

// TestHospitalGroupAPI runs a group through the API: A's admin creates it
// and invites B by id, only B's admin answers, A's staff read the
// overview, which counts B and names it only once B shares its sheet; B
// leaves and A deletes the group, each change in both organisations' logs.
func TestHospitalGroupAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		want := func(rec interface{ Result() *http.Response }, code int) {
			t.Helper()
			if res := rec.Result(); res.StatusCode != code {
				t.Fatalf("status %d, want %d", res.StatusCode, code)
			}
		}
		want(f.do(t, "POST", "/api/v1/groups", f.adminA.read, `{"name":"x"}`), http.StatusForbidden)
		want(f.do(t, "POST", "/api/v1/groups", f.staffA.write, `{"name":"x"}`), http.StatusForbidden)
		want(f.do(t, "POST", "/api/v1/groups", f.op.write, `{"name":"x"}`), http.StatusForbidden)
		want(f.do(t, "POST", "/api/v1/groups", f.adminA.write, `{"name":"","x":1}`), http.StatusBadRequest)
		rec := f.do(t, "POST", "/api/v1/groups", f.adminA.write, `{"name":"A医療グループ"}`)
		want(rec, http.StatusCreated)
		g := decodeBody[auth.Group](t, rec)
		base := "/api/v1/groups/" + g.ID

		want(f.do(t, "POST", base+"/invitations", f.staffA.write, `{"ref":"`+f.orgB.ID+`"}`), http.StatusForbidden)
		rec = f.do(t, "POST", base+"/invitations", f.adminA.write, `{"ref":"12"}`)
		want(rec, http.StatusBadRequest)
		if e := decodeBody[errorBody](t, rec); e.Error.Field != "ref" {
			t.Fatalf("error %+v", e)
		}
		rec = f.do(t, "POST", base+"/invitations", f.adminA.write, `{"ref":"`+f.orgB.ID+`"}`)
		want(rec, http.StatusCreated)
		if m := decodeBody[auth.GroupMember](t, rec); m.Status != auth.GroupInvited || m.OrgName != "" {
			t.Fatalf("invitation %+v", m)
		}

		// B sees the group's and A's names, nothing else of A.
		rec = f.do(t, "GET", "/api/v1/groups", f.staffB.read, "")
		want(rec, http.StatusOK)
		list := decodeBody[hgroupListBody](t, rec)
		if len(list.Owned) != 0 || len(list.Memberships) != 1 || list.Memberships[0].GroupName != "A医療グループ" || list.Memberships[0].OwnerName != "A総合病院" {
			t.Fatalf("B's list %+v", list)
		}
		want(f.do(t, "GET", base, f.adminB.write, ""), http.StatusNotFound)
		want(f.do(t, "POST", base+"/membership", f.staffB.write, `{"accept":true}`), http.StatusForbidden)
		want(f.do(t, "POST", base+"/membership", f.adminB.write, `{}`), http.StatusBadRequest)
		rec = f.do(t, "POST", base+"/membership", f.adminB.write, `{"accept":true}`)
		want(rec, http.StatusOK)
		want(f.do(t, "POST", base+"/membership", f.adminB.write, `{"accept":false}`), http.StatusConflict)

		// The overview: B counted, named only once it shares.
		reg := assessRegistry()
		e, err := reg.Get(ctx, d, "", "mhlw-r7-institution")
		if err != nil {
			t.Fatal(err)
		}
		sh, err := assess.StartSheet(ctx, d, e, f.orgB.ID, 2025, "", f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		outsider, err := auth.CreateOrg(ctx, d, auth.OrgInput{Kind: auth.KindHospital, Name: "グループ外病院"}, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		osh, err := assess.StartSheet(ctx, d, e, outsider.ID, 2025, "", f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := assess.SetShared(ctx, d, outsider.ID, osh.ID, true, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		overview := base + "/assess/overview?family=mhlw-institution&year=2025"
		rec = f.do(t, "GET", overview, f.staffA.read, "")
		want(rec, http.StatusOK)
		ov := decodeBody[hgroupOverviewBody](t, rec)
		if ov.Members != 1 || ov.Started != 1 || len(ov.Shared) != 0 || ov.GroupName != "A医療グループ" {
			t.Fatalf("overview %s", rec.Body)
		}
		if strings.Contains(rec.Body.String(), "Bクリニック") || strings.Contains(rec.Body.String(), "グループ外病院") {
			t.Fatalf("overview names an institution: %s", rec.Body)
		}
		want(f.do(t, "GET", base+"/assess/overview?family=other", f.staffA.read, ""), http.StatusBadRequest)
		if err := assess.SetShared(ctx, d, f.orgB.ID, sh.ID, true, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		rec = f.do(t, "GET", overview, f.auditorA.read, "")
		ov = decodeBody[hgroupOverviewBody](t, rec)
		if len(ov.Shared) != 1 || ov.Shared[0].OrgName != "Bクリニック" || strings.Contains(rec.Body.String(), "グループ外病院") {
			t.Fatalf("overview after sharing %s", rec.Body)
		}
		want(f.do(t, "GET", overview, f.adminB.read, ""), http.StatusNotFound)

		// B leaves; A deletes.
		want(f.do(t, "DELETE", base+"/membership", f.adminB.write, ""), http.StatusNoContent)
		want(f.do(t, "DELETE", base+"/membership", f.adminB.write, ""), http.StatusNotFound)
		want(f.do(t, "DELETE", base, f.staffA.write, ""), http.StatusForbidden)
		want(f.do(t, "DELETE", base, f.adminA.write, ""), http.StatusNoContent)
		want(f.do(t, "GET", base, f.adminA.write, ""), http.StatusNotFound)

		for _, c := range []struct {
			org, action string
			n           int
		}{
			{f.orgA.ID, "group.create", 1}, {f.orgA.ID, "group.invite", 1}, {f.orgB.ID, "group.invite", 1},
			{f.orgA.ID, "group.accept", 1}, {f.orgB.ID, "group.accept", 1},
			{f.orgA.ID, "group.leave", 1}, {f.orgB.ID, "group.leave", 1}, {f.orgA.ID, "group.delete", 1},
		} {
			var n int
			if err := d.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE org_id = ? AND action = ?`, c.org, c.action).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != c.n {
				t.Errorf("%s has %d %s entries, want %d", c.org, n, c.action, c.n)
			}
		}
	})
}
