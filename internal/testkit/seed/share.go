package seed

import (
	"context"
	"testing"
	"time"

	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/share"
)

// Group makes a sharing group named name of kind for v's organisation and
// invites each of the organisations invite (they have not answered yet);
// it returns the group's id.
func Group(t testing.TB, d *db.DB, v share.Viewer, name string, kind share.GroupKind, now time.Time, invite ...string) string {
	t.Helper()
	ctx := context.Background()
	var id string
	err := d.InTx(ctx, func(tx *db.Tx) error {
		g, err := share.CreateGroup(ctx, tx, v, name, kind, now)
		if err != nil {
			return err
		}
		id = g.ID
		for _, org := range invite {
			if _, err := share.SetGroupMember(ctx, tx, v, g.ID, org, false, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed group %q: %v", name, err)
	}
	return id
}
