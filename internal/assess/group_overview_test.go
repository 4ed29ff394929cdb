package assess

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

// TestGroupProgressOverview counts only the accepted members of a hospital
// group, names only those that shared their sheet, and never counts an
// organisation outside the group, one only invited, or another owner's
// group.
func TestGroupProgressOverview(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		reg := MustRegistry()
		e := r7(t)
		head := mkOrg(t, d, auth.KindHospital, "本部病院")
		sharing := mkOrg(t, d, auth.KindHospital, "共有する分院")
		hidden := mkOrg(t, d, auth.KindClinic, "共有しない診療所")
		idle := mkOrg(t, d, auth.KindClinic, "未着手の診療所")
		invited := mkOrg(t, d, auth.KindHospital, "招待中の病院")
		outside := mkOrg(t, d, auth.KindHospital, "グループ外の病院")
		owner := &auth.Principal{UserID: db.NewID(), OrgID: head.ID, OrgName: head.Name, OrgKind: head.Kind, Role: auth.RoleAdmin}
		g, err := auth.CreateGroup(ctx, d, owner, "本部グループ", testNow)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []*auth.Org{sharing, hidden, idle, invited} {
			if _, err := auth.InviteToGroup(ctx, d, owner, g.ID, o.ID, testNow); err != nil {
				t.Fatal(err)
			}
			if o == invited {
				continue
			}
			p := &auth.Principal{UserID: db.NewID(), OrgID: o.ID, OrgKind: o.Kind, Role: auth.RoleAdmin}
			if _, err := auth.AnswerGroupInvite(ctx, d, p, g.ID, true, testNow); err != nil {
				t.Fatal(err)
			}
		}
		for _, o := range []*auth.Org{sharing, hidden, invited, outside} {
			sh, err := StartSheet(ctx, d, e, o.ID, 2025, "", testNow)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := SaveAnswers(ctx, d, e, o.ID, sh.ID, "u", fillAll(e, "2025-06-30"), testNow); err != nil {
				t.Fatal(err)
			}
			if o != hidden {
				if err := SetShared(ctx, d, o.ID, sh.ID, true, testNow); err != nil {
					t.Fatal(err)
				}
			}
		}

		ov, err := GroupProgressOverview(ctx, d, reg, head.ID, g.ID, "mhlw-institution", 2025)
		if err != nil {
			t.Fatal(err)
		}
		if ov.Members != 3 || ov.Started != 2 || ov.Complete != 2 || len(ov.Shared) != 1 || ov.Shared[0].OrgName != "共有する分院" {
			t.Fatalf("overview %+v", ov)
		}
		dump := fmt.Sprintf("%+v", ov)
		for _, name := range []string{"共有しない診療所", "招待中の病院", "グループ外の病院"} {
			if strings.Contains(dump, name) {
				t.Errorf("the group overview names %s", name)
			}
		}

		// Another owner asking with this group's id counts nothing.
		other, err := GroupProgressOverview(ctx, d, reg, outside.ID, g.ID, "mhlw-institution", 2025)
		if err != nil {
			t.Fatal(err)
		}
		if other.Members != 0 || other.Started != 0 || len(other.Shared) != 0 {
			t.Fatalf("another owner's view %+v", other)
		}

		// The ISAC overview is unchanged by groups: every institution counts.
		all, err := ProgressOverview(ctx, d, reg, "mhlw-institution", 2025)
		if err != nil {
			t.Fatal(err)
		}
		if all.Members != 6 || all.Started != 4 || len(all.Shared) != 3 {
			t.Fatalf("ISAC overview %+v", all)
		}
	})
}
