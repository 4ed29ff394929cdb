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
	ctx := context.Background()
	var u *auth.User
	err := d.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if u, err = auth.CreateUser(ctx, tx, auth.NewUser{Email: email, DisplayName: name, Lang: "ja", Password: Password}, now); err != nil {
			return err
		}
		return auth.AddMember(ctx, tx, org.ID, u.ID, role, now)
	})
	if err != nil {
		t.Fatalf("seed person %s: %v", email, err)
	}
	return Person{Org: org, User: u, Role: role, Password: Password}
}

// OrgWithMember makes an organisation and one person in it.
func OrgWithMember(t testing.TB, d *db.DB, in auth.OrgInput, email, name string, role auth.Role, now time.Time) Person {
	t.Helper()
	return Member(t, d, Org(t, d, in, now), email, name, role, now)
}
