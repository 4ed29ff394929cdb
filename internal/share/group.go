package share

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// GroupKind is the kind of a sharing group.
type GroupKind string

// The kinds of sharing group.
const (
	GroupRegional  GroupKind = "regional"  // a regional medical network
	GroupCustomers GroupKind = "customers" // a vendor's (or any member's) clients
	GroupOther     GroupKind = "other"
)

// Group is a sharing group: a named set of member organisations that
// TLP:AMBER posts may name as recipients.
type Group struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Kind       GroupKind `json:"kind"`
	OwnerOrgID string    `json:"owner_org_id"`
	Members    int       `json:"members"`
	// IsMember is true when the reader's organisation belongs to it.
	IsMember  bool      `json:"is_member"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateGroup makes a sharing group owned by v's organisation (ISAC
// operators make regional groups; any member may list its clients).
func CreateGroup(ctx context.Context, q db.Querier, v Viewer, name string, kind GroupKind, now time.Time) (*Group, error) {
	if !v.Member() || !v.Write {
		return nil, apperr.New(apperr.Forbidden, "share.read_only")
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return nil, apperr.Field("name", "share.group.name_required")
	}
	switch kind {
	case GroupRegional, GroupOther:
		if !v.Operator {
			return nil, apperr.New(apperr.Forbidden, "share.group.operators_only")
		}
	case GroupCustomers:
	default:
		return nil, apperr.Field("kind", "share.group.bad_kind")
	}
	g := &Group{ID: db.NewID(), Name: name, Kind: kind, OwnerOrgID: v.OrgID, CreatedAt: now.UTC()}
	_, err := q.Exec(ctx, `INSERT INTO share_groups (id, name, kind, owner_org_id, created_at) VALUES (?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.Kind, g.OwnerOrgID, g.CreatedAt)
	return g, err
}

// SetGroupMember adds (or with remove, takes out) an organisation of a
// group owned by v's organisation.
func SetGroupMember(ctx context.Context, q db.Querier, v Viewer, groupID, orgID string, remove bool) error {
	var owner string
	if err := q.QueryRow(ctx, `SELECT owner_org_id FROM share_groups WHERE id = ?`, groupID).Scan(&owner); err != nil {
		return db.ScanErr(err)
	}
	if owner != v.OrgID || !v.Write {
		return db.ErrNotFound
	}
	if remove {
		_, err := q.Exec(ctx, `DELETE FROM share_group_members WHERE group_id = ? AND org_id = ?`, groupID, orgID)
		return err
	}
	if err := checkExist(ctx, q, "organizations", "org_id", []string{orgID}); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `INSERT INTO share_group_members (group_id, org_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, groupID, orgID)
	return err
}

// ListGroups lists the sharing groups a member may name as recipients:
// all of them (names only; members are not listed).
func ListGroups(ctx context.Context, q db.Querier, v Viewer) ([]Group, error) {
	if !v.Member() {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT g.id, g.name, g.kind, g.owner_org_id, g.created_at,
		(SELECT COUNT(*) FROM share_group_members m WHERE m.group_id = g.id),
		(SELECT COUNT(*) FROM share_group_members m WHERE m.group_id = g.id AND m.org_id = ?)
		FROM share_groups g ORDER BY g.kind, g.name, g.id`, v.OrgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var g Group
		var mine int
		if err := rows.Scan(&g.ID, &g.Name, &g.Kind, &g.OwnerOrgID, &g.CreatedAt, &g.Members, &mine); err != nil {
			return nil, err
		}
		g.IsMember = mine > 0
		if g.OwnerOrgID != v.OrgID && !v.Operator {
			g.OwnerOrgID = ""
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
