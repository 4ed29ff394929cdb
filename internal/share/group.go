package share

import (
	"context"
	"database/sql"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
	"github.com/medisac/medisac/internal/notify"
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
	if !v.Member() {
		return nil, apperr.New(apperr.Unauthenticated, "share.signin_required")
	}
	if err := v.check("share.group.create", v.own(), "share.read_only"); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return nil, apperr.Field("name", "share.group.name_required")
	}
	switch kind {
	case GroupRegional, GroupOther:
		if err := v.check("share.group.create.regional", auth.Target{}, "share.group.operators_only"); err != nil {
			return nil, err
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

// SetGroupMember invites (or with remove, takes out) an organisation of a
// group owned by v's organisation. An invited organisation is not a member
// until one of its admins accepts (AnswerGroupInvite): posts to the group
// reach accepted members only. It reports whether a new invitation was
// made, so that the caller tells the invited organisation's admins
// (MailGroupInvite).
func SetGroupMember(ctx context.Context, q db.Querier, v Viewer, groupID, orgID string, remove bool, now time.Time) (invited bool, err error) {
	var owner string
	if err := q.QueryRow(ctx, `SELECT owner_org_id FROM share_groups WHERE id = ?`, groupID).Scan(&owner); err != nil {
		return false, db.ScanErr(err)
	}
	if owner != v.OrgID {
		return false, db.ErrNotFound
	}
	if err := v.check("share.group.member", auth.Target{OrgID: owner}, "share.read_only"); err != nil {
		return false, err
	}
	if remove {
		_, err := q.Exec(ctx, `DELETE FROM share_group_members WHERE group_id = ? AND org_id = ?`, groupID, orgID)
		return false, err
	}
	if err := checkExist(ctx, q, "organizations", "org_id", []string{orgID}); err != nil {
		return false, err
	}
	// The owner needs no invitation to its own group.
	state := "pending"
	if orgID == owner {
		state = "accepted"
	}
	res, err := q.Exec(ctx, `INSERT INTO share_group_members (group_id, org_id, state, invited_by, invited_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, groupID, orgID, state, v.UserID, now.UTC())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0 && state == "pending", nil
}

// GroupInvite is an invitation of v's organisation into a sharing group.
type GroupInvite struct {
	GroupID   string    `json:"group_id"`
	Name      string    `json:"name"`
	Kind      GroupKind `json:"kind"`
	OwnerName string    `json:"owner_name"`
	State     string    `json:"state"`
	InvitedAt time.Time `json:"invited_at"`
}

// ListGroupInvites lists the groups v's organisation was invited into or
// belongs to, pending invitations first, with who owns them, so that its
// admins can accept, decline or leave.
func ListGroupInvites(ctx context.Context, q db.Querier, v Viewer) ([]GroupInvite, error) {
	if !v.Member() {
		return nil, nil
	}
	return db.QueryAll(ctx, q, func(r db.Scanner) (GroupInvite, error) {
		var x GroupInvite
		var invited sql.NullTime
		err := r.Scan(&x.GroupID, &x.Name, &x.Kind, &x.OwnerName, &x.State, &invited, &x.InvitedAt)
		if invited.Valid {
			x.InvitedAt = invited.Time
		}
		return x, err
	}, `SELECT g.id, g.name, g.kind, COALESCE(o.name, ''), m.state, m.invited_at, g.created_at
		FROM share_group_members m JOIN share_groups g ON g.id = m.group_id LEFT JOIN organizations o ON o.id = g.owner_org_id
		WHERE m.org_id = ? AND g.owner_org_id <> m.org_id ORDER BY m.state DESC, g.name, g.id`, v.OrgID)
}

// AnswerGroupInvite accepts (accept) or declines an invitation of v's
// organisation into a group; declining a group already joined leaves it.
// Only the organisation's admins may; an organisation that was not invited
// gets db.ErrNotFound.
func AnswerGroupInvite(ctx context.Context, q db.Querier, v Viewer, groupID string, accept bool) error {
	var state string
	if err := q.QueryRow(ctx, `SELECT state FROM share_group_members WHERE group_id = ? AND org_id = ?`, groupID, v.OrgID).Scan(&state); err != nil {
		return db.ScanErr(err)
	}
	if err := v.check("share.group.accept", v.own(), "share.group.admins_only"); err != nil {
		return err
	}
	if accept {
		_, err := q.Exec(ctx, `UPDATE share_group_members SET state = 'accepted' WHERE group_id = ? AND org_id = ?`, groupID, v.OrgID)
		return err
	}
	_, err := q.Exec(ctx, `DELETE FROM share_group_members WHERE group_id = ? AND org_id = ?`, groupID, v.OrgID)
	return err
}

// InviteMail is what the invitation e-mail needs: the mailer, the catalog
// of its text and the address of the site.
type InviteMail struct {
	Mailer  *notify.Mailer
	Catalog *i18n.Catalog
	BaseURL string
}

// MailGroupInvite writes, in q (the caller's transaction), one e-mail to
// each admin of the invited organisation saying which organisation invited
// it into which group and where to accept or decline. Without a mailer
// nothing is sent.
func (m InviteMail) MailGroupInvite(ctx context.Context, q db.Querier, groupID, orgID string) error {
	if m.Mailer == nil || m.Catalog == nil {
		return nil
	}
	var name, owner string
	if err := q.QueryRow(ctx, `SELECT g.name, COALESCE(o.name, '') FROM share_groups g LEFT JOIN organizations o ON o.id = g.owner_org_id WHERE g.id = ?`,
		groupID).Scan(&name, &owner); err != nil {
		return db.ScanErr(err)
	}
	type to struct{ email, lang string }
	tos, err := db.QueryAll(ctx, q, func(r db.Scanner) (to, error) {
		var x to
		err := r.Scan(&x.email, &x.lang)
		return x, err
	}, `SELECT u.email, u.lang FROM memberships ms JOIN users u ON u.id = ms.user_id
		WHERE ms.org_id = ? AND ms.role = 'admin' AND NOT u.disabled ORDER BY u.email`, orgID)
	if err != nil {
		return err
	}
	link := strings.TrimSuffix(m.BaseURL, "/") + "/share/groups#invites"
	for _, x := range tos {
		lang := x.lang
		if lang == "" {
			lang = "ja"
		}
		if _, err := m.Mailer.Send(ctx, q, notify.Message{OrgID: orgID, To: x.email,
			Subject: m.Catalog.T(lang, "share.group.invite.mail.subject", owner),
			Body:    m.Catalog.T(lang, "share.group.invite.mail.body", owner, name, link)}); err != nil {
			return err
		}
	}
	return nil
}

// ListGroups lists the sharing groups a member may name as recipients:
// all of them (names only; members are not listed).
func ListGroups(ctx context.Context, q db.Querier, v Viewer) ([]Group, error) {
	if !v.Member() {
		return nil, nil
	}
	return db.QueryAll(ctx, q, func(r db.Scanner) (Group, error) {
		var g Group
		var mine int
		err := r.Scan(&g.ID, &g.Name, &g.Kind, &g.OwnerOrgID, &g.CreatedAt, &g.Members, &mine)
		g.IsMember = mine > 0
		if g.OwnerOrgID != v.OrgID && !v.Operator {
			g.OwnerOrgID = ""
		}
		return g, err
	}, `SELECT g.id, g.name, g.kind, g.owner_org_id, g.created_at,
		(SELECT COUNT(*) FROM share_group_members m WHERE m.group_id = g.id AND m.state = 'accepted'),
		(SELECT COUNT(*) FROM share_group_members m WHERE m.group_id = g.id AND m.org_id = ? AND m.state = 'accepted')
		FROM share_groups g ORDER BY g.kind, g.name, g.id`, v.OrgID)
}
