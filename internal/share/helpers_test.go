package share

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/db/dbtest"
	"github.com/medisac/medisac/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func must[T any](t testing.TB) func(T, error) T { return testkit.Must[T](t) }

func newOrg(t testing.TB, q db.Querier, kind, name string) string {
	t.Helper()
	id := db.NewID()
	if _, err := q.Exec(context.Background(), `INSERT INTO organizations (id, kind, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`, id, kind, name, t0, t0); err != nil {
		t.Fatal(err)
	}
	return id
}

// newPerson adds a person to org and returns them as a writing viewer.
func newPerson(t testing.TB, q db.Querier, org, email string, admin, operator bool) Viewer {
	t.Helper()
	id := db.NewID()
	ctx := context.Background()
	email = id[len(id)-6:] + "." + email
	if _, err := q.Exec(ctx, `INSERT INTO users (id, email, display_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`, id, email, email, t0, t0); err != nil {
		t.Fatal(err)
	}
	role := "staff"
	if admin {
		role = "admin"
	}
	if _, err := q.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`, org, id, role, t0); err != nil {
		t.Fatal(err)
	}
	return Viewer{OrgID: org, UserID: id, Operator: operator, Admin: admin, Write: true}
}

// world is the cast of the TLP matrix: every relation a reader can have
// to a post.
type world struct {
	authorOrg, recipientOrg, groupOrg, namedOrg, otherOrg, isacOrg string
	group                                                          string
	author, colleague, recipient, named, groupMember, other, op    Viewer
}

func newWorld(t testing.TB, d *db.DB) *world {
	t.Helper()
	w := &world{}
	w.authorOrg = newOrg(t, d, "clinic", "さくら内科クリニック")
	w.recipientOrg = newOrg(t, d, "hospital", "みなと総合病院")
	w.groupOrg = newOrg(t, d, "hospital", "やまびこ病院")
	w.namedOrg = newOrg(t, d, "vendor", "電子カルテ株式会社")
	w.otherOrg = newOrg(t, d, "pharmacy", "ひかり薬局")
	w.isacOrg = newOrg(t, d, "isac", "医療ISAC事務局")
	w.author = newPerson(t, d, w.authorOrg, "author@sakura.example.jp", false, false)
	w.colleague = newPerson(t, d, w.authorOrg, "colleague@sakura.example.jp", true, false)
	w.recipient = newPerson(t, d, w.recipientOrg, "r@minato.example.jp", false, false)
	w.groupMember = newPerson(t, d, w.groupOrg, "g@yamabiko.example.jp", false, false)
	w.named = newPerson(t, d, w.namedOrg, "named@karte.example.jp", false, false)
	w.other = newPerson(t, d, w.otherOrg, "o@hikari.example.jp", false, false)
	w.op = newPerson(t, d, w.isacOrg, "op@isac.example.jp", true, true)
	ctx := context.Background()
	g := must[*Group](t)(CreateGroup(ctx, d, w.op, "東京都地域医療ネットワーク", GroupRegional, t0))
	w.group = g.ID
	joinGroup(t, d, w.op, g.ID, w.groupOrg)
	return w
}

func errKey(err error) string {
	if err == nil {
		return ""
	}
	return apperr.From(err).Key
}

// joinGroup has owner invite org into group and an admin of org accept.
func joinGroup(t testing.TB, d *db.DB, owner Viewer, group, org string) {
	t.Helper()
	ctx := context.Background()
	if _, err := SetGroupMember(ctx, d, owner, group, org, false, t0); err != nil {
		t.Fatal(err)
	}
	adm := Viewer{OrgID: org, UserID: db.NewID(), Admin: true, Write: true}
	if err := AnswerGroupInvite(ctx, d, adm, group, true); err != nil {
		t.Fatal(err)
	}
}
