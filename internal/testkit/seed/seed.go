// Package seed makes organisations and people through the real stores for
// tests (it is part of the test kit; testkit itself stays free of the
// capability packages so that their own tests can use it).
package seed

import (
	"context"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// Password is the password of the people the seeders make.
const Password = "Kx7#mQ2v-river-2026"

// Person is a seeded person in an organisation.
type Person struct {
	Org      *auth.Org
	User     *auth.User
	Role     auth.Role
	Password string
}

// Org makes an organisation through the store.
func Org(t testing.TB, d *db.DB, in auth.OrgInput, now time.Time) *auth.Org {
	t.Helper()
	o, err := auth.CreateOrg(context.Background(), d, in, now)
	if err != nil {
		t.Fatalf("seed organisation %q: %v", in.Name, err)
	}
	return o
}

// Member makes a person with Password (Japanese interface) and adds them to
// org with role.
func Member(t testing.TB, d *db.DB, org *auth.Org, email, name string, role auth.Role, now time.Time) Person {
	t.Helper()
	return MemberAs(t, d, org, auth.NewUser{Email: email, DisplayName: name, Lang: "ja", Password: Password}, role, now)
}

// MemberAs makes the person in (with in's password and language; no
// password when it is empty) and adds them to org with role.
func MemberAs(t testing.TB, d *db.DB, org *auth.Org, in auth.NewUser, role auth.Role, now time.Time) Person {
	t.Helper()
	ctx := context.Background()
	var u *auth.User
	err := d.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if u, err = auth.CreateUser(ctx, tx, in, now); err != nil {
			return err
		}
		return auth.AddMember(ctx, tx, org.ID, u.ID, role, now)
	})
	if err != nil {
		t.Fatalf("seed person %s: %v", in.Email, err)
	}
	return Person{Org: org, User: u, Role: role, Password: in.Password}
}

// OrgWithMember makes an organisation and one person in it.
func OrgWithMember(t testing.TB, d *db.DB, in auth.OrgInput, email, name string, role auth.Role, now time.Time) Person {
	t.Helper()
	return Member(t, d, Org(t, d, in, now), email, name, role, now)
}

// Team is an organisation with one person in each role.
type Team struct {
	Org                   *auth.Org
	Admin, Staff, Auditor Person
}

// OrgWithTeam makes an organisation with an admin, a staff member and an
// auditor (admin@, staff@ and auditor@ domain, with Password).
func OrgWithTeam(t testing.TB, d *db.DB, in auth.OrgInput, domain string, now time.Time) Team {
	t.Helper()
	o := Org(t, d, in, now)
	return Team{Org: o,
		Admin:   Member(t, d, o, "admin@"+domain, in.Name+" 管理者", auth.RoleAdmin, now),
		Staff:   Member(t, d, o, "staff@"+domain, in.Name+" 職員", auth.RoleStaff, now),
		Auditor: Member(t, d, o, "auditor@"+domain, in.Name+" 監査", auth.RoleAuditor, now),
	}
}

// Token issues an API token named name to p in p's organisation (write
// says whether it may change things) and returns the secret and the token.
func Token(t testing.TB, d *db.DB, p Person, name string, write bool, now time.Time) (string, *auth.APIToken) {
	t.Helper()
	raw, tok, err := auth.CreateToken(context.Background(), d, p.User.ID, p.Org.ID, name, write, nil, now)
	if err != nil {
		t.Fatalf("seed token %q of %s: %v", name, p.User.Email, err)
	}
	return raw, tok
}
