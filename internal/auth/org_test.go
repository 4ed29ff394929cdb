package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
)

func TestOrgInputValidate(t *testing.T) {
	beds := func(n int) *int { return &n }
	base := func() auth.OrgInput {
		return auth.OrgInput{Kind: auth.KindHospital, Name: "北町総合病院", NameKana: "キタマチソウゴウビョウイン", Prefecture: "東京都", MedicalCode: "1312345678", Beds: beds(199)}
	}
	cases := []struct {
		name  string
		edit  func(*auth.OrgInput)
		field string
		key   string
	}{
		{"valid", func(*auth.OrgInput) {}, "", ""},
		{"no kind", func(in *auth.OrgInput) { in.Kind = "" }, "kind", "auth.org.kind_invalid"},
		{"unknown kind", func(in *auth.OrgInput) { in.Kind = "school" }, "kind", "auth.org.kind_invalid"},
		{"blank name", func(in *auth.OrgInput) { in.Name = " 　" }, "name", "auth.org.name_required"},
		{"name 200", func(in *auth.OrgInput) { in.Name = strings.Repeat("病", 200) }, "", ""},
		{"name 201", func(in *auth.OrgInput) { in.Name = strings.Repeat("病", 201) }, "name", "auth.org.name_too_long"},
		{"kana with kanji", func(in *auth.OrgInput) { in.NameKana = "北町ビョウイン" }, "name_kana", "auth.org.kana_invalid"},
		{"hiragana", func(in *auth.OrgInput) { in.NameKana = "きたまち びょういん" }, "", ""},
		{"kana with middle dot", func(in *auth.OrgInput) { in.NameKana = "イリョウホウジン・キタマチ（ビョウイン）" }, "", ""},
		{"kana empty", func(in *auth.OrgInput) { in.NameKana = "" }, "", ""},
		{"kana too long", func(in *auth.OrgInput) { in.NameKana = strings.Repeat("ア", 201) }, "name_kana", "auth.org.kana_invalid"},
		{"prefecture without suffix", func(in *auth.OrgInput) { in.Prefecture = "東京" }, "prefecture", "auth.org.prefecture_invalid"},
		{"prefecture romaji", func(in *auth.OrgInput) { in.Prefecture = "Tokyo" }, "prefecture", "auth.org.prefecture_invalid"},
		{"hokkaido", func(in *auth.OrgInput) { in.Prefecture = "北海道" }, "", ""},
		{"no prefecture", func(in *auth.OrgInput) { in.Prefecture = "" }, "", ""},
		{"code 7 digits", func(in *auth.OrgInput) { in.MedicalCode = "0112345" }, "", ""},
		{"code with hyphens", func(in *auth.OrgInput) { in.MedicalCode = "13-1234-5678" }, "", ""},
		{"code 8 digits", func(in *auth.OrgInput) { in.MedicalCode = "12345678" }, "medical_code", "auth.org.medical_code_invalid"},
		{"code 9 digits", func(in *auth.OrgInput) { in.MedicalCode = "123456789" }, "medical_code", "auth.org.medical_code_invalid"},
		{"code 11 digits", func(in *auth.OrgInput) { in.MedicalCode = "12345678901" }, "medical_code", "auth.org.medical_code_invalid"},
		{"code full-width", func(in *auth.OrgInput) { in.MedicalCode = "１２３４５６７" }, "medical_code", "auth.org.medical_code_invalid"},
		{"code letters", func(in *auth.OrgInput) { in.MedicalCode = "12345a7" }, "medical_code", "auth.org.medical_code_invalid"},
		{"beds negative", func(in *auth.OrgInput) { in.Beds = beds(-1) }, "beds", "auth.org.beds_invalid"},
		{"beds 10001", func(in *auth.OrgInput) { in.Beds = beds(10001) }, "beds", "auth.org.beds_invalid"},
		{"beds 0", func(in *auth.OrgInput) { in.Beds = beds(0) }, "", ""},
		{"beds unknown", func(in *auth.OrgInput) { in.Beds = nil }, "", ""},
		{"mfa everyone", func(in *auth.OrgInput) { in.MFAPolicy = auth.MFAEveryone }, "", ""},
		{"mfa unknown", func(in *auth.OrgInput) { in.MFAPolicy = "all" }, "mfa_policy", "auth.org.mfa_policy_invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base()
			c.edit(&in)
			err := in.Validate()
			if c.key == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantAppErr(t, err, apperr.Invalid, c.key, c.field)
		})
	}

	in := auth.OrgInput{Kind: auth.KindClinic, Name: "  南町クリニック ", NameKana: " ミナミマチクリニック ", Prefecture: " 大阪府 ", MedicalCode: " 27-1234-5 "}
	must(t, in.Validate())
	if in.Name != "南町クリニック" || in.NameKana != "ミナミマチクリニック" || in.Prefecture != "大阪府" || in.MedicalCode != "2712345" || in.MFAPolicy != auth.MFAAdmins {
		t.Fatalf("not normalised: %+v", in)
	}
	if len(auth.Prefectures) != 47 {
		t.Fatalf("%d prefectures", len(auth.Prefectures))
	}
}

func TestOrgScope(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		if _, err := auth.CreateOrg(ctx, d, auth.OrgInput{Kind: auth.KindHospital, Name: "x", Prefecture: "東京"}, t0); err == nil {
			t.Fatal("CreateOrg accepted an invalid prefecture")
		}
		operator := principal(t, d, f.oper, f.isac)
		member := principal(t, d, f.staff, f.hosp)

		all, err := auth.ListOrgs(ctx, d, operator, auth.OrgFilter{})
		must(t, err)
		if len(all) != 3 {
			t.Fatalf("operator sees %d organisations, want 3", len(all))
		}
		own, err := auth.ListOrgs(ctx, d, member, auth.OrgFilter{})
		must(t, err)
		if len(own) != 1 || own[0].ID != f.hosp.ID {
			t.Fatalf("hospital member sees %v, want only its own", names(own))
		}
		got, err := auth.GetOrg(ctx, d, member, f.hosp.ID)
		must(t, err)
		if got.Name != "北町総合病院" || got.Prefecture != "東京都" || got.MFAPolicy != auth.MFAAdmins || !got.CreatedAt.Equal(t0) {
			t.Fatalf("GetOrg: %+v", got)
		}
		_, err = auth.GetOrg(ctx, d, member, f.clinic.ID)
		wantNotFound(t, err)
		_, err = auth.GetOrg(ctx, d, member, "not-an-id")
		wantNotFound(t, err)
		if _, err := auth.GetOrg(ctx, d, operator, f.clinic.ID); err != nil {
			t.Fatalf("operator GetOrg: %v", err)
		}
		_, err = auth.GetOrg(ctx, d, operator, db.NewID())
		wantNotFound(t, err)

		for _, c := range []struct {
			f    auth.OrgFilter
			want []string
		}{
			{auth.OrgFilter{Kind: auth.KindClinic}, []string{"南町クリニック"}},
			{auth.OrgFilter{Prefecture: "東京都"}, []string{"北町総合病院"}},
			{auth.OrgFilter{Query: "町"}, []string{"北町総合病院", "南町クリニック"}},
			{auth.OrgFilter{Query: "ミナミ"}, []string{"南町クリニック"}},
			{auth.OrgFilter{Query: "%"}, nil},
			{auth.OrgFilter{Query: "_"}, nil},
			{auth.OrgFilter{Limit: 1, Offset: 1}, []string{"北町総合病院"}},
		} {
			orgs, err := auth.ListOrgs(ctx, d, operator, c.f)
			must(t, err)
			if strings.Join(names(orgs), ",") != strings.Join(c.want, ",") {
				t.Errorf("ListOrgs(%+v) = %v, want %v", c.f, names(orgs), c.want)
			}
		}
		if orgs, _ := auth.ListOrgs(ctx, d, member, auth.OrgFilter{Kind: auth.KindClinic}); len(orgs) != 0 {
			t.Fatalf("member filtering by kind sees %v", names(orgs))
		}
	})
}

func TestUpdateOrg(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		s := signInAll(t, d, f)
		admin, staff, operator := s.admin, s.staff, s.oper
		in := auth.OrgInput{Kind: auth.KindISAC, Name: "北町総合病院", NameKana: "キタマチ", Prefecture: "東京都", MedicalCode: "1312345678", MFAPolicy: auth.MFAEveryone}

		_, _, err := auth.UpdateOrg(ctx, d, nil, staff, f.hosp.ID, in, t0)
		wantAppErr(t, err, apperr.Forbidden, "auth.org.field_forbidden", "kind")
		_, _, err = auth.UpdateOrg(ctx, d, nil, admin, f.clinic.ID, in, t0)
		wantNotFound(t, err)

		// An admin of the organisation may not change its kind: the whole
		// change is refused, naming the field, and nothing changes.
		_, _, err = auth.UpdateOrg(ctx, d, nil, admin, f.hosp.ID, in, t0.Add(time.Hour))
		wantAppErr(t, err, apperr.Forbidden, "auth.org.field_forbidden", "kind")
		if o, _ := auth.GetOrg(ctx, d, admin, f.hosp.ID); o.MFAPolicy != auth.MFAAdmins || o.Name != f.hosp.Name {
			t.Fatalf("a refused change changed %+v", o)
		}
		in.Kind = ""
		before, after, err := auth.UpdateOrg(ctx, d, nil, admin, f.hosp.ID, in, t0.Add(time.Hour))
		must(t, err)
		if before.MFAPolicy != auth.MFAAdmins || after.MFAPolicy != auth.MFAEveryone || after.MedicalCode != "1312345678" {
			t.Fatalf("before %+v after %+v", before, after)
		}
		if after.Kind != auth.KindHospital {
			t.Fatalf("an admin changed the kind of their organisation to %s", after.Kind)
		}
		if !after.UpdatedAt.Equal(t0.Add(time.Hour)) || !after.CreatedAt.Equal(t0) {
			t.Fatalf("times: %v %v", after.CreatedAt, after.UpdatedAt)
		}

		bad := in
		bad.MedicalCode = "123"
		_, _, err = auth.UpdateOrg(ctx, d, nil, admin, f.hosp.ID, bad, t0)
		wantAppErr(t, err, apperr.Invalid, "auth.org.medical_code_invalid", "medical_code")

		// An operator admin changes the kind and the record, not the MFA
		// policy of another organisation.
		in.Kind = auth.KindPharmacy
		_, _, err = auth.UpdateOrg(ctx, d, nil, operator, f.clinic.ID, in, t0)
		wantAppErr(t, err, apperr.Forbidden, "auth.org.field_forbidden", "mfa_policy")
		in.MFAPolicy = ""
		_, after, err = auth.UpdateOrg(ctx, d, nil, operator, f.clinic.ID, in, t0)
		must(t, err)
		if after.Kind != auth.KindPharmacy {
			t.Fatalf("operator could not change the kind: %s", after.Kind)
		}

		// An operator who may not write cannot change organisations either.
		opAuditor := mustUser(t, d, "audit@isac.example.jp", "事務局 監査", f.isac, auth.RoleAuditor)
		_, _, err = auth.UpdateOrg(ctx, d, nil, principal(t, d, opAuditor, f.isac), f.clinic.ID, in, t0)
		wantAppErr(t, err, apperr.Forbidden, "error.forbidden.read_only", "")
		// Nor can its staff: not the kind, not the name, not the MFA policy.
		opStaff := principal(t, d, mustUser(t, d, "staff@isac.example.jp", "事務局 職員", f.isac, auth.RoleStaff), f.isac)
		for field, change := range map[string]auth.OrgInput{
			"kind":       {Kind: auth.KindISAC, Name: after.Name, NameKana: after.NameKana, Prefecture: after.Prefecture, MedicalCode: after.MedicalCode},
			"name":       {Name: "乗っ取り", NameKana: after.NameKana, Prefecture: after.Prefecture, MedicalCode: after.MedicalCode},
			"mfa_policy": {Name: after.Name, NameKana: after.NameKana, Prefecture: after.Prefecture, MedicalCode: after.MedicalCode, MFAPolicy: auth.MFAEveryone},
		} {
			_, _, err = auth.UpdateOrg(ctx, d, nil, opStaff, f.clinic.ID, change, t0)
			wantAppErr(t, err, apperr.Forbidden, "auth.org.field_forbidden", field)
		}
		if o, _ := auth.GetOrg(ctx, d, operator, f.clinic.ID); o.Kind != auth.KindPharmacy || o.Name != after.Name || o.MFAPolicy != after.MFAPolicy {
			t.Fatalf("ISAC staff changed %+v", o)
		}
		// The last ISAC operator keeps its kind.
		_, _, err = auth.UpdateOrg(ctx, d, nil, operator, f.isac.ID, auth.OrgInput{Kind: auth.KindHospital, Name: f.isac.Name, NameKana: f.isac.NameKana, Prefecture: f.isac.Prefecture}, t0)
		wantAppErr(t, err, apperr.Conflict, "auth.org.last_operator", "kind")
		raw, _, err := auth.CreateToken(ctx, d, f.oper.ID, f.isac.ID, "read only", false, nil, t0)
		must(t, err)
		ro, err := auth.PrincipalForToken(ctx, d, raw, t0)
		must(t, err)
		_, _, err = auth.UpdateOrg(ctx, d, nil, ro, f.clinic.ID, in, t0)
		wantAppErr(t, err, apperr.Forbidden, "error.forbidden.read_only", "")
	})
}

func names(orgs []*auth.Org) []string {
	var out []string
	for _, o := range orgs {
		out = append(out, o.Name)
	}
	return out
}
