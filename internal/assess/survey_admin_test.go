package assess

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/notify"
)

// TestSurveyAdmin lists a survey for its owner and its invitees, reminds
// only administrators of organisations that have not answered (once a
// day), and closes it.
func TestSurveyAdmin(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		reg := MustRegistry()
		isac := mkOrg(t, d, auth.KindISAC, "医療ISAC")
		a := mkOrg(t, d, auth.KindHospital, "A病院")
		b := mkOrg(t, d, auth.KindHospital, "B病院")
		for i, o := range []*auth.Org{a, b} {
			u, err := auth.CreateUser(ctx, d, auth.NewUser{Email: fmt.Sprintf("admin%d@h.example.jp", i), DisplayName: "管理者"}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if err := auth.AddMember(ctx, d, o.ID, u.ID, auth.RoleAdmin, testNow); err != nil {
				t.Fatal(err)
			}
		}
		s, err := CreateSurvey(ctx, d, reg, isac.ID, "op", []byte(surveySrc), OrgFilter{}, "", testNow)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			_, err := Respond(ctx, tx, reg, a.ID, s.ID, "u", []Answer{{ItemID: "offline", Value: "yes"}}, testNow)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		own, err := OwnedSurveys(ctx, d, isac.ID)
		if err != nil || len(own) != 1 || own[0].Targets != 2 || own[0].Responded != 1 {
			t.Fatalf("owned %v %+v", err, own)
		}
		if x, _ := OwnedSurveys(ctx, d, a.ID); len(x) != 0 {
			t.Error("an invitee owns the survey")
		}
		if _, err := OwnedSurvey(ctx, d, a.ID, s.ID); err != db.ErrNotFound {
			t.Errorf("invitee reads owner view: %v", err)
		}
		inv, err := Invitations(ctx, d, a.ID)
		if err != nil || len(inv) != 1 || inv[0].RespondedAt == nil {
			t.Fatalf("invitations %v %+v", err, inv)
		}
		mailer, _ := notify.NewMailer(d, nil, nil, func() time.Time { return testNow })
		m := VendorMail{Mailer: mailer, Catalog: i18n.MustLoad(), BaseURL: "https://m.example.jp"}
		remind := func(at time.Time) int {
			var n int
			if err := d.InTx(ctx, func(tx *db.Tx) error {
				var err error
				n, err = RemindSurvey(ctx, tx, m, isac.ID, "医療ISAC", s.ID, at)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := remind(testNow); n != 1 {
			t.Fatalf("reminded %d", n)
		}
		if n := remind(testNow.Add(time.Hour)); n != 0 {
			t.Errorf("reminded again within a day: %d", n)
		}
		box, _ := mailer.Outbox(ctx, b.ID, 10)
		if len(box) != 1 || box[0].To != "admin1@h.example.jp" || !strings.Contains(box[0].Body, "/assess/surveys/"+s.ID) {
			t.Fatalf("reminder %+v", box)
		}
		if box, _ := mailer.Outbox(ctx, a.ID, 10); len(box) != 0 {
			t.Error("a responder was reminded")
		}
		if _, err := RemindSurvey(ctx, d, m, a.ID, "x", s.ID, testNow); err != db.ErrNotFound {
			t.Errorf("invitee reminded: %v", err)
		}
		if err := CloseSurvey(ctx, d, isac.ID, s.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			_, err := Respond(ctx, tx, reg, b.ID, s.ID, "u", []Answer{{ItemID: "offline", Value: "no"}}, testNow)
			return err
		}); err == nil {
			t.Error("answered a closed survey")
		}
	})
}

// TestProgressOverview counts every member's sheet and names only those
// that shared theirs.
func TestProgressOverview(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		reg := MustRegistry()
		e := r7(t)
		mkOrg(t, d, auth.KindISAC, "医療ISAC")
		mkOrg(t, d, auth.KindVendor, "ベンダー")
		shared := mkOrg(t, d, auth.KindHospital, "公開病院")
		hidden := mkOrg(t, d, auth.KindHospital, "非公開病院")
		mkOrg(t, d, auth.KindClinic, "未着手クリニック")
		for _, o := range []*auth.Org{shared, hidden} {
			sh, err := StartSheet(ctx, d, e, o.ID, 2025, "", testNow)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := SaveAnswers(ctx, d, e, o.ID, sh.ID, "u", fillAll(e, "2025-06-30"), testNow); err != nil {
				t.Fatal(err)
			}
			if o == shared {
				if err := SetShared(ctx, d, o.ID, sh.ID, true, testNow); err != nil {
					t.Fatal(err)
				}
			}
		}
		ov, err := ProgressOverview(ctx, d, reg, "mhlw-institution", 2025)
		if err != nil {
			t.Fatal(err)
		}
		if ov.Members != 3 || ov.Started != 2 || ov.Complete != 2 || ov.Signed != 0 || len(ov.Shared) != 1 || ov.Shared[0].OrgName != "公開病院" {
			t.Fatalf("overview %+v", ov)
		}
		if strings.Contains(fmt.Sprintf("%+v", ov), "非公開病院") {
			t.Error("the overview names an institution that did not share")
		}
	})
}

// TestBuildSurvey turns picked checklist items into a valid survey file
// whose items keep their ids and are answered yes or no.
func TestBuildSurvey(t *testing.T) {
	e := r7(t)
	b, err := BuildSurvey("バックアップ調査", 2025, []*Item{e.Item("patch"), e.Item("has_system"), e.Item("patch")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseEdition("survey.yaml", b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if s.Kind != KindSurvey || len(s.Items()) != 2 || s.Item("patch").Type != TypeYesNo || len(s.Item("patch").CellIDs()) != 1 {
		t.Fatalf("survey %+v", s)
	}
	if _, err := BuildSurvey(" ", 2025, []*Item{e.Item("patch")}); err == nil {
		t.Error("no title accepted")
	}
	if _, err := BuildSurvey("x", 2025, nil); err == nil {
		t.Error("no items accepted")
	}
}
