package auth_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

// groupWorld is the fixture plus a third hospital with a 医療機関コード and
// principals for everyone who acts.
type groupWorld struct {
	*fixture
	third                                          *auth.Org
	admin, staff, auditor, other, oper, thirdAdmin *auth.Principal
}

func newGroupWorld(t *testing.T, d *db.DB) *groupWorld {
	t.Helper()
	f := newFixture(t, d)
	w := &groupWorld{fixture: f}
	w.third = mustOrg(t, d, auth.OrgInput{Kind: auth.KindHospital, Name: "西町病院", NameKana: "ニシマチビョウイン", MedicalCode: "1312345678"})
	thirdAdmin := mustUser(t, d, "admin@nishimachi-hp.jp", "西 六郎", w.third, auth.RoleAdmin)
	s := signInAll(t, d, f)
	w.admin, w.staff, w.auditor, w.other, w.oper = s.admin, s.staff, s.auditor, s.other, s.oper
	w.thirdAdmin = principal(t, d, thirdAdmin, w.third)
	return w
}

func TestGroupLifecycle(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newGroupWorld(t, d)
		g, err := auth.CreateGroup(ctx, d, w.admin, "  北町医療グループ ", t0)
		must(t, err)
		if g.Name != "北町医療グループ" || g.OwnerOrgID != w.hosp.ID {
			t.Fatalf("created %+v", g)
		}
		_, err = auth.CreateGroup(ctx, d, w.admin, "北町医療グループ", t0)
		wantAppErr(t, err, apperr.Invalid, "group.name_taken", "name")

		// Invite by 医療機関コード (with hyphens) and by id.
		m, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, "13-1234-5678", t0)
		must(t, err)
		if m.OrgID != w.third.ID || m.Status != auth.GroupInvited || m.InvitedAs != "1312345678" || m.OrgName != "" {
			t.Fatalf("invited %+v", m)
		}
		_, err = auth.InviteToGroup(ctx, d, w.admin, g.ID, w.clinic.ID, t0)
		must(t, err)
		_, err = auth.InviteToGroup(ctx, d, w.admin, g.ID, w.third.ID, t0)
		wantAppErr(t, err, apperr.Invalid, "group.already_invited", "ref")
		// The owner itself joins at once.
		self, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, w.hosp.ID, t0)
		must(t, err)
		if self.Status != auth.GroupActive {
			t.Fatalf("owner joining itself: %+v", self)
		}

		// The owner does not see an invitee's name before it accepts.
		got, err := auth.GetGroup(ctx, d, w.staff, g.ID)
		must(t, err)
		for _, m := range got.Members {
			if m.Status != auth.GroupActive && m.OrgName != "" {
				t.Errorf("pending invitee named: %+v", m)
			}
		}
		if len(got.Members) != 3 {
			t.Fatalf("%d members", len(got.Members))
		}

		// The invitee sees the group and its owner, and answers.
		mine, err := auth.GroupsOf(ctx, d, w.thirdAdmin)
		must(t, err)
		if len(mine) != 1 || mine[0].GroupName != "北町医療グループ" || mine[0].OwnerName != "北町総合病院" || mine[0].Status != auth.GroupInvited {
			t.Fatalf("GroupsOf invitee: %+v", mine)
		}
		acc, err := auth.AnswerGroupInvite(ctx, d, w.thirdAdmin, g.ID, true, t0.Add(time.Hour))
		must(t, err)
		if acc.Status != auth.GroupActive || acc.AnsweredAt == nil || !acc.AnsweredAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("accepted %+v", acc)
		}
		_, err = auth.AnswerGroupInvite(ctx, d, w.thirdAdmin, g.ID, false, t0)
		wantAppErr(t, err, apperr.Conflict, "group.already_answered", "")
		_, err = auth.AnswerGroupInvite(ctx, d, w.other, g.ID, false, t0)
		must(t, err)
		if mine, _ := auth.GroupsOf(ctx, d, w.other); len(mine) != 0 {
			t.Fatalf("declined group still listed: %+v", mine)
		}
		got, err = auth.GetGroup(ctx, d, w.admin, g.ID)
		must(t, err)
		states := map[string]string{}
		for _, m := range got.Members {
			states[m.OrgID] = string(m.Status) + "/" + m.OrgName
		}
		if states[w.third.ID] != "active/西町病院" || states[w.clinic.ID] != "declined/" || states[w.hosp.ID] != "active/北町総合病院" {
			t.Fatalf("states %v", states)
		}
		ids, err := auth.ActiveGroupMemberIDs(ctx, d, w.auditor, g.ID)
		must(t, err)
		if len(ids) != 2 {
			t.Fatalf("active ids %v", ids)
		}

		// A declined invitation can be renewed, then removed by the owner.
		m, err = auth.InviteToGroup(ctx, d, w.admin, g.ID, w.clinic.ID, t0.Add(2*time.Hour))
		must(t, err)
		if m.Status != auth.GroupInvited {
			t.Fatalf("renewed %+v", m)
		}
		_, err = auth.RemoveGroupMember(ctx, d, w.admin, g.ID, w.clinic.ID)
		must(t, err)
		_, err = auth.RemoveGroupMember(ctx, d, w.admin, g.ID, w.clinic.ID)
		wantNotFound(t, err)

		// A member leaves; a member that is only invited cannot leave.
		_, err = auth.LeaveGroup(ctx, d, w.thirdAdmin, g.ID)
		must(t, err)
		_, err = auth.LeaveGroup(ctx, d, w.thirdAdmin, g.ID)
		wantNotFound(t, err)
		_, err = auth.InviteToGroup(ctx, d, w.admin, g.ID, w.third.ID, t0)
		must(t, err)
		_, err = auth.LeaveGroup(ctx, d, w.thirdAdmin, g.ID)
		wantAppErr(t, err, apperr.Conflict, "group.not_yet_member", "")

		// An organisation may belong to several groups.
		g2, err := auth.CreateGroup(ctx, d, w.thirdAdmin, "西町グループ", t0)
		must(t, err)
		_, err = auth.InviteToGroup(ctx, d, w.thirdAdmin, g2.ID, w.third.ID, t0)
		must(t, err)
		if mine, _ := auth.GroupsOf(ctx, d, w.thirdAdmin); len(mine) != 2 {
			t.Fatalf("third belongs to %+v", mine)
		}

		del, err := auth.DeleteGroup(ctx, d, w.admin, g.ID)
		must(t, err)
		if len(del.Members) != 2 {
			t.Fatalf("deleted group had %d members", len(del.Members))
		}
		if n := count(t, d, `SELECT COUNT(*) FROM org_group_members WHERE group_id = ?`, g.ID); n != 0 {
			t.Fatalf("%d member rows left", n)
		}
		_, err = auth.GetGroup(ctx, d, w.admin, g.ID)
		wantNotFound(t, err)
	})
}

func TestGroupRefusals(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newGroupWorld(t, d)
		vendor := mustOrg(t, d, auth.OrgInput{Kind: auth.KindVendor, Name: "東ベンダー", MedicalCode: "1399999999"})
		g, err := auth.CreateGroup(ctx, d, w.admin, "北町医療グループ", t0)
		must(t, err)

		cases := []struct {
			name  string
			do    func() error
			code  apperr.Code
			key   string
			field string
		}{
			{"blank name", func() error { _, err := auth.CreateGroup(ctx, d, w.admin, " 　", t0); return err }, apperr.Invalid, "group.name_required", "name"},
			{"long name", func() error {
				_, err := auth.CreateGroup(ctx, d, w.admin, strings.Repeat("群", auth.MaxGroupName+1), t0)
				return err
			}, apperr.Invalid, "group.name_too_long", "name"},
			{"control in name", func() error { _, err := auth.CreateGroup(ctx, d, w.admin, "a\nb", t0); return err }, apperr.Invalid, "group.name_invalid", "name"},
			{"staff creates", func() error { _, err := auth.CreateGroup(ctx, d, w.staff, "x", t0); return err }, apperr.Forbidden, "group.forbidden", ""},
			{"operator creates", func() error { _, err := auth.CreateGroup(ctx, d, w.oper, "x", t0); return err }, apperr.Forbidden, "group.forbidden", ""},
			{"staff invites", func() error { _, err := auth.InviteToGroup(ctx, d, w.staff, g.ID, w.third.ID, t0); return err }, apperr.Forbidden, "group.forbidden", ""},
			{"auditor deletes", func() error { _, err := auth.DeleteGroup(ctx, d, w.auditor, g.ID); return err }, apperr.Forbidden, "group.forbidden", ""},
			{"empty ref", func() error { _, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, " ", t0); return err }, apperr.Invalid, "group.ref_required", "ref"},
			{"bad code", func() error { _, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, "12345", t0); return err }, apperr.Invalid, "group.ref_invalid", "ref"},
			{"unknown code", func() error { _, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, "0000000", t0); return err }, apperr.Invalid, "group.ref_unknown", "ref"},
			{"unknown id", func() error { _, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, db.NewID(), t0); return err }, apperr.Invalid, "group.ref_unknown", "ref"},
			{"vendor by id", func() error { _, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, vendor.ID, t0); return err }, apperr.Invalid, "group.ref_unknown", "ref"},
			{"vendor by code", func() error { _, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, "1399999999", t0); return err }, apperr.Invalid, "group.ref_unknown", "ref"},
			{"ISAC by id", func() error { _, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, w.isac.ID, t0); return err }, apperr.Invalid, "group.ref_unknown", "ref"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { wantAppErr(t, c.do(), c.code, c.key, c.field) })
		}

		// Full-width digits are read as a code.
		m, err := auth.InviteToGroup(ctx, d, w.admin, g.ID, "１３１２３４５６７８", t0)
		must(t, err)
		if m.OrgID != w.third.ID {
			t.Fatalf("full-width code invited %s", m.OrgID)
		}
		// Two organisations with one code: the owner must use the id.
		mustOrg(t, d, auth.OrgInput{Kind: auth.KindClinic, Name: "同番号クリニック", MedicalCode: "1312345678"})
		_, err = auth.InviteToGroup(ctx, d, w.admin, g.ID, "1312345678", t0)
		wantAppErr(t, err, apperr.Invalid, "group.ref_ambiguous", "ref")

		// Only the invited organisation's admins answer.
		thirdStaff := principal(t, d, mustUser(t, d, "staff@nishimachi-hp.jp", "西 七郎", w.third, auth.RoleStaff), w.third)
		_, err = auth.AnswerGroupInvite(ctx, d, thirdStaff, g.ID, true, t0)
		wantAppErr(t, err, apperr.Forbidden, "group.forbidden_answer", "")
		if mine, _ := auth.GroupsOf(ctx, d, thirdStaff); len(mine) != 1 {
			t.Fatalf("staff of the invitee sees %+v", mine)
		}
	})
}

// TestGroupTenantScope checks that a group is invisible to everyone but its
// owner and its invited or accepted members, and that to them another
// organisation's group id behaves like a missing one.
func TestGroupTenantScope(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		w := newGroupWorld(t, d)
		g, err := auth.CreateGroup(ctx, d, w.admin, "北町医療グループ", t0)
		must(t, err)
		_, err = auth.InviteToGroup(ctx, d, w.admin, g.ID, w.third.ID, t0)
		must(t, err)
		_, err = auth.AnswerGroupInvite(ctx, d, w.thirdAdmin, g.ID, true, t0)
		must(t, err)
		missing := db.NewID()

		for _, p := range []struct {
			name string
			p    *auth.Principal
		}{{"member", w.thirdAdmin}, {"outsider", w.other}, {"operator", w.oper}} {
			t.Run(p.name, func(t *testing.T) {
				for _, id := range []string{g.ID, missing, "not-an-id"} {
					_, err := auth.GetGroup(ctx, d, p.p, id)
					wantNotFound(t, err)
					_, err = auth.InviteToGroup(ctx, d, p.p, id, w.clinic.ID, t0)
					wantNotFound(t, err)
					_, err = auth.RemoveGroupMember(ctx, d, p.p, id, w.third.ID)
					wantNotFound(t, err)
					_, err = auth.DeleteGroup(ctx, d, p.p, id)
					wantNotFound(t, err)
					_, err = auth.ActiveGroupMemberIDs(ctx, d, p.p, id)
					wantNotFound(t, err)
				}
				owned, err := auth.OwnedGroups(ctx, d, p.p)
				must(t, err)
				for _, o := range owned {
					if o.ID == g.ID {
						t.Fatalf("%s lists the group as its own", p.name)
					}
				}
			})
		}
		for _, p := range []*auth.Principal{w.other, w.oper} {
			for _, id := range []string{g.ID, missing} {
				_, err := auth.AnswerGroupInvite(ctx, d, p, id, true, t0)
				wantNotFound(t, err)
				_, err = auth.LeaveGroup(ctx, d, p, id)
				wantNotFound(t, err)
			}
			mine, err := auth.GroupsOf(ctx, d, p)
			must(t, err)
			if len(mine) != 0 {
				t.Fatalf("outsider sees %+v", mine)
			}
		}
		// The owner cannot answer or leave in the member's place.
		_, err = auth.LeaveGroup(ctx, d, w.admin, g.ID)
		wantNotFound(t, err)
		if n := count(t, d, `SELECT COUNT(*) FROM org_group_members WHERE group_id = ? AND status = 'active'`, g.ID); n != 1 {
			t.Fatalf("%d active members after the walk", n)
		}
	})
}

// TestCatalogCoversGroups checks that every group.* key the package uses
// exists in both languages with matching arguments.
func TestCatalogCoversGroups(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(".", "group.go"))
	must(t, err)
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`"(group\.[a-z_.]+)"`).FindAllStringSubmatch(string(b), -1) {
		keys[m[1]] = true
	}
	testkit.CatalogHasAll(t, catalog, 10, slices.Sorted(maps.Keys(keys)))
	checkRenders(t, "group.name_too_long", auth.MaxGroupName)
}
