package share

import (
	"context"
	"errors"
	"strconv"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// OrgEntry is an organisation as the recipient pickers show it: its name,
// kind and prefecture, nothing of its data.
type OrgEntry struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Prefecture string `json:"prefecture"`
	// State is, in a group's member list, "pending" until an admin of the
	// organisation accepts the invitation, then "accepted".
	State string `json:"state,omitempty"`
}

func scanOrgEntries(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close() error
}) ([]OrgEntry, error) {
	defer rows.Close()
	var out []OrgEntry
	for rows.Next() {
		var o OrgEntry
		if err := rows.Scan(&o.ID, &o.Name, &o.Kind, &o.Prefecture); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Directory lists the organisations a member may name as recipients of a
// TLP:AMBER or AMBER+STRICT post (up to limit, by name): names, kinds and
// prefectures only. The public gets nothing.
func Directory(ctx context.Context, q db.Querier, v Viewer, limit int) ([]OrgEntry, error) {
	if !v.Member() {
		return nil, nil
	}
	if limit <= 0 || limit > 5000 {
		limit = 2000
	}
	rows, err := q.Query(ctx, `SELECT id, name, kind, prefecture FROM organizations ORDER BY name_kana, name, id LIMIT `+strconv.Itoa(limit))
	if err != nil {
		return nil, err
	}
	return scanOrgEntries(rows)
}

// GroupMembers lists the member organisations of a sharing group, for the
// group's owner organisation and ISAC operators; anyone else gets
// db.ErrNotFound.
func GroupMembers(ctx context.Context, q db.Querier, v Viewer, groupID string) (*Group, []OrgEntry, error) {
	var g Group
	if err := q.QueryRow(ctx, `SELECT id, name, kind, owner_org_id, created_at FROM share_groups WHERE id = ?`, groupID).
		Scan(&g.ID, &g.Name, &g.Kind, &g.OwnerOrgID, &g.CreatedAt); err != nil {
		return nil, nil, db.ScanErr(err)
	}
	if !v.Member() || (g.OwnerOrgID != v.OrgID && !v.Operator) {
		return nil, nil, db.ErrNotFound
	}
	rows, err := q.Query(ctx, `SELECT o.id, o.name, o.kind, o.prefecture, m.state FROM share_group_members m JOIN organizations o ON o.id = m.org_id
		WHERE m.group_id = ? ORDER BY o.name_kana, o.name, o.id`, groupID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var ms []OrgEntry
	for rows.Next() {
		var o OrgEntry
		if err := rows.Scan(&o.ID, &o.Name, &o.Kind, &o.Prefecture, &o.State); err != nil {
			return nil, nil, err
		}
		if o.State == "accepted" {
			g.Members++
		}
		ms = append(ms, o)
	}
	return &g, ms, rows.Err()
}

// GetWebhook returns the webhook address of v's organisation ("" when none)
// for its admins; the secret is never read back.
func GetWebhook(ctx context.Context, q db.Querier, v Viewer) (string, error) {
	if !v.Admin {
		return "", apperr.New(apperr.Forbidden, "share.webhook.admins_only")
	}
	var u string
	err := q.QueryRow(ctx, `SELECT url FROM share_webhooks WHERE org_id = ?`, v.OrgID).Scan(&u)
	if errors.Is(db.ScanErr(err), db.ErrNotFound) {
		return "", nil
	}
	return u, err
}

// DeleteFeed removes a TAXII feed of v's organisation (its admins only).
func DeleteFeed(ctx context.Context, q db.Querier, v Viewer, id string) error {
	if err := v.check("share.feed.delete", v.own(), "share.feed.admins_only"); err != nil {
		return err
	}
	res, err := q.Exec(ctx, `DELETE FROM share_taxii_feeds WHERE id = ? AND org_id = ?`, id, v.OrgID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return db.ErrNotFound
	}
	return nil
}
