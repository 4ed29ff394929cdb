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

func TestNormalizeEmail(t *testing.T) {
	for in, want := range map[string]string{
		" Tanaka@Kitamachi-HP.jp ":              "tanaka@kitamachi-hp.jp",
		"a.b+tag@example.or.jp":                 "a.b+tag@example.or.jp",
		"":                                      "!auth.email.required",
		"   ":                                   "!auth.email.required",
		"tanaka":                                "!auth.email.invalid",
		"tanaka@localhost":                      "!auth.email.invalid",
		"田中 <tanaka@example.jp>":                "!auth.email.invalid",
		"<tanaka@example.jp>":                   "!auth.email.invalid",
		"tanaka@@example.jp":                    "!auth.email.invalid",
		"a@b.jp, c@d.jp":                        "!auth.email.invalid",
		"x@" + strings.Repeat("a", 250) + ".jp": "!auth.email.invalid",
	} {
		got, err := auth.NormalizeEmail(in)
		if strings.HasPrefix(want, "!") {
			wantAppErr(t, err, apperr.Invalid, want[1:], "email")
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"tanaka@example.jp", " A@B.JP ", "@", "a@", "@b.jp", "\"a b\"@example.jp", "a@[127.0.0.1]", "=?utf-8?q?x?= <a@b.jp>", "İ@example.jp", "a@b.c\x00", "ａ@example.jp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := auth.NormalizeEmail(s)
		if err != nil {
			ae := apperr.From(err)
			if ae.Code != apperr.Invalid || ae.Field != "email" {
				t.Fatalf("%q: unexpected error %v", s, err)
			}
			return
		}
		if got != strings.ToLower(got) || got != strings.TrimSpace(got) || len(got) > 254 || !strings.Contains(got, "@") {
			t.Fatalf("%q normalised to %q", s, got)
		}
		again, err := auth.NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("%q: not idempotent: %q then %q, %v", s, got, again, err)
		}
	})
}

func TestCreateUser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		u, err := auth.CreateUser(ctx, d, auth.NewUser{Email: " Tanaka@Kitamachi-HP.jp", DisplayName: " 田中 一郎 ", Lang: "en", Password: goodPassword}, t0)
		must(t, err)
		if u.Email != "tanaka@kitamachi-hp.jp" || u.DisplayName != "田中 一郎" || u.Lang != "en" || u.PasswordChangedAt == nil {
			t.Fatalf("created %+v", u)
		}
		got, err := auth.GetUserByEmail(ctx, d, "TANAKA@kitamachi-hp.JP ")
		must(t, err)
		if got.ID != u.ID || !auth.CheckPassword(got.PasswordHash, goodPassword) || auth.CheckPassword(got.PasswordHash, "Kx7#mQ2v-rivers") {
			t.Fatalf("stored user %+v does not check its password", got)
		}
		if strings.Contains(got.PasswordHash, goodPassword) {
			t.Fatal("password stored in clear")
		}

		_, err = auth.CreateUser(ctx, d, auth.NewUser{Email: "tanaka@KITAMACHI-hp.jp"}, t0)
		wantAppErr(t, err, apperr.Conflict, "auth.email.taken", "email")

		_, err = auth.CreateUser(ctx, d, auth.NewUser{Email: "sato@kitamachi-hp.jp", Password: "password1"}, t0)
		wantAppErr(t, err, apperr.Invalid, "auth.password.mix", "password")
		_, err = auth.CreateUser(ctx, d, auth.NewUser{Email: "sato@kitamachi-hp.jp", DisplayName: "佐藤 花子", Password: "佐藤花子のパスワード1!"}, t0)
		wantAppErr(t, err, apperr.Invalid, "auth.password.personal", "password")
		_, err = auth.CreateUser(ctx, d, auth.NewUser{Email: "sato@kitamachi-hp.jp", DisplayName: strings.Repeat("佐", 101)}, t0)
		wantAppErr(t, err, apperr.Invalid, "auth.user.name_too_long", "display_name")
		_, err = auth.CreateUser(ctx, d, auth.NewUser{Email: "sato"}, t0)
		wantAppErr(t, err, apperr.Invalid, "auth.email.invalid", "email")

		invited, err := auth.CreateUser(ctx, d, auth.NewUser{Email: "sato@kitamachi-hp.jp", Lang: "fr"}, t0)
		must(t, err)
		if invited.Lang != "ja" || invited.PasswordHash != "" || invited.PasswordChangedAt != nil {
			t.Fatalf("invited user %+v", invited)
		}
		_, err = auth.GetUser(ctx, d, db.NewID())
		wantNotFound(t, err)
		_, err = auth.GetUser(ctx, d, "'; DROP TABLE users; --")
		wantNotFound(t, err)

		err = auth.SetPassword(ctx, d, invited, "sato@kitamachi", t0)
		wantAppErr(t, err, apperr.Invalid, "auth.password.personal", "password")
		must(t, auth.SetPassword(ctx, d, invited, "Kumo-no-ue-2026", t0.Add(time.Hour)))
		got, err = auth.GetUser(ctx, d, invited.ID)
		must(t, err)
		if !auth.CheckPassword(got.PasswordHash, "Kumo-no-ue-2026") || got.PasswordChangedAt == nil || !got.PasswordChangedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("after SetPassword: %+v", got)
		}

		err = auth.UpdateProfile(ctx, d, u.ID, "田中 一郎（医事課）", "xx", t0)
		wantAppErr(t, err, apperr.Invalid, "auth.user.lang_invalid", "lang")
		must(t, auth.UpdateProfile(ctx, d, u.ID, "田中 一郎（医事課）", "ja", t0))
		got, err = auth.GetUser(ctx, d, u.ID)
		must(t, err)
		if got.DisplayName != "田中 一郎（医事課）" || got.Lang != "ja" {
			t.Fatalf("after UpdateProfile: %+v", got)
		}
	})
}

func TestMemberships(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		s := signInAll(t, d, f)
		admin, staff, auditor, otherAdmin, operator := s.admin, s.staff, s.auditor, s.other, s.oper

		err := auth.AddMember(ctx, d, f.hosp.ID, f.staff.ID, "owner", t0)
		wantAppErr(t, err, apperr.Invalid, "auth.role.invalid", "role")

		ms, err := auth.ListMembers(ctx, d, staff, f.hosp.ID)
		must(t, err)
		if len(ms) != 3 || ms[0].Email != "admin@kitamachi-hp.jp" || ms[0].Role != auth.RoleAdmin || ms[0].OrgName != "北町総合病院" {
			t.Fatalf("ListMembers: %+v", ms)
		}
		_, err = auth.ListMembers(ctx, d, otherAdmin, f.hosp.ID)
		wantNotFound(t, err)
		// Operators manage organisation records, not their people.
		_, err = auth.ListMembers(ctx, d, operator, f.hosp.ID)
		wantNotFound(t, err)
		if n, a, err := auth.MemberCounts(ctx, d, operator, f.hosp.ID); err != nil || n != 3 || a != 1 {
			t.Fatalf("operator MemberCounts: %d %d %v", n, a, err)
		}

		for name, p := range map[string]*auth.Principal{"staff": staff, "auditor": auditor} {
			_, _, err = auth.ChangeRole(ctx, d, nil, p, f.hosp.ID, f.auditor.ID, auth.RoleStaff)
			if !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("%s ChangeRole: got %v, want Forbidden", name, err)
			}
			_, err = auth.RemoveMember(ctx, d, nil, p, f.hosp.ID, f.auditor.ID)
			if !apperr.Is(err, apperr.Forbidden) {
				t.Fatalf("%s RemoveMember: got %v, want Forbidden", name, err)
			}
		}

		// Another organisation's member looks missing, from either side.
		_, _, err = auth.ChangeRole(ctx, d, nil, otherAdmin, f.hosp.ID, f.staff.ID, auth.RoleAdmin)
		wantNotFound(t, err)
		_, err = auth.RemoveMember(ctx, d, nil, otherAdmin, f.hosp.ID, f.staff.ID)
		wantNotFound(t, err)
		_, _, err = auth.ChangeRole(ctx, d, nil, admin, f.hosp.ID, f.other.ID, auth.RoleStaff)
		wantNotFound(t, err)
		_, err = auth.RemoveMember(ctx, d, nil, admin, f.hosp.ID, f.other.ID)
		wantNotFound(t, err)
		_, err = auth.RemoveMember(ctx, d, nil, admin, f.clinic.ID, f.other.ID)
		wantNotFound(t, err)

		_, _, err = auth.ChangeRole(ctx, d, nil, admin, f.hosp.ID, f.admin.ID, auth.RoleStaff)
		wantAppErr(t, err, apperr.Conflict, "auth.member.last_admin", "")
		_, err = auth.RemoveMember(ctx, d, nil, admin, f.hosp.ID, f.admin.ID)
		wantAppErr(t, err, apperr.Conflict, "auth.member.last_admin", "")
		_, _, err = auth.ChangeRole(ctx, d, nil, admin, f.hosp.ID, f.staff.ID, "boss")
		wantAppErr(t, err, apperr.Invalid, "auth.role.invalid", "role")

		m, _, err := auth.ChangeRole(ctx, d, nil, admin, f.hosp.ID, f.staff.ID, auth.RoleAdmin)
		must(t, err)
		if m.Role != auth.RoleAdmin {
			t.Fatalf("ChangeRole returned %+v", m)
		}
		// With a second admin the first may step down.
		_, _, err = auth.ChangeRole(ctx, d, nil, admin, f.hosp.ID, f.admin.ID, auth.RoleStaff)
		must(t, err)
		got, err := auth.GetMember(ctx, d, staff, f.hosp.ID, f.admin.ID)
		must(t, err)
		if got.Role != auth.RoleStaff {
			t.Fatalf("role after change: %s", got.Role)
		}
		// The former staff member is now the only admin.
		newAdmin := principal(t, d, f.staff, f.hosp)
		_, err = auth.RemoveMember(ctx, d, nil, newAdmin, f.hosp.ID, f.staff.ID)
		wantAppErr(t, err, apperr.Conflict, "auth.member.last_admin", "")

		// An operator admin changes nobody's role in another organisation:
		// its members look missing.
		_, _, err = auth.ChangeRole(ctx, d, nil, operator, f.clinic.ID, f.other.ID, auth.RoleStaff)
		wantNotFound(t, err)
		_, _, err = auth.ChangeRole(ctx, d, nil, operator, f.hosp.ID, f.auditor.ID, auth.RoleStaff)
		wantNotFound(t, err)
		_, err = auth.RemoveMember(ctx, d, nil, operator, f.hosp.ID, f.auditor.ID)
		wantNotFound(t, err)

		// Removing a member ends their sessions and tokens in that organisation only.
		raw, _, err := auth.CreateSession(ctx, d, f.auditor.ID, f.hosp.ID, false, "", "", auth.DefaultSessionPolicy, t0)
		must(t, err)
		must(t, auth.AddMember(ctx, d, f.clinic.ID, f.auditor.ID, auth.RoleAuditor, t0))
		rawClinic, _, err := auth.CreateSession(ctx, d, f.auditor.ID, f.clinic.ID, false, "", "", auth.DefaultSessionPolicy, t0)
		must(t, err)
		tok, _, err := auth.CreateToken(ctx, d, f.auditor.ID, f.hosp.ID, "export", false, nil, t0)
		must(t, err)
		removed, err := auth.RemoveMember(ctx, d, nil, newAdmin, f.hosp.ID, f.auditor.ID)
		must(t, err)
		if removed.UserID != f.auditor.ID || removed.Email != "audit@kitamachi-hp.jp" {
			t.Fatalf("RemoveMember returned %+v", removed)
		}
		_, err = auth.LookupSession(ctx, d, raw, auth.DefaultSessionPolicy, t0)
		wantNotFound(t, err)
		if _, err := auth.LookupSession(ctx, d, rawClinic, auth.DefaultSessionPolicy, t0); err != nil {
			t.Fatalf("session in the other organisation ended: %v", err)
		}
		_, err = auth.PrincipalForToken(ctx, d, tok, t0)
		wantNotFound(t, err)
		_, err = auth.GetMember(ctx, d, newAdmin, f.hosp.ID, f.auditor.ID)
		wantNotFound(t, err)

		mine, err := auth.MembershipsOf(ctx, d, f.auditor.ID)
		must(t, err)
		if len(mine) != 1 || mine[0].OrgID != f.clinic.ID {
			t.Fatalf("MembershipsOf: %+v", mine)
		}
	})
}
