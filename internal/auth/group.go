package auth

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
)

// GroupStatus is where an organisation stands in a hospital group.
type GroupStatus string

// The membership states. A declined invitation stays visible to the owner
// until it removes it or invites again.
const (
	GroupInvited  GroupStatus = "invited"
	GroupActive   GroupStatus = "active"
	GroupDeclined GroupStatus = "declined"
)

// MaxGroupName is the longest group name in characters.
const MaxGroupName = 100

// Group is a hospital group (病院グループ): a head-office organisation that
// owns it and the organisations that accepted its invitation. Members is
// filled only for the owner's people.
type Group struct {
	ID         string        `json:"id"`
	OwnerOrgID string        `json:"owner_org_id"`
	OwnerName  string        `json:"owner_name"`
	Name       string        `json:"name"`
	CreatedAt  time.Time     `json:"created_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
	Members    []GroupMember `json:"members,omitempty"`
}

// GroupMember is one organisation's place in a group as its owner sees
// it. OrgName is empty until the organisation accepts: a pending or
// declined invitation shows only what the owner typed (InvitedAs).
type GroupMember struct {
	GroupID    string      `json:"group_id"`
	OrgID      string      `json:"org_id"`
	OrgName    string      `json:"org_name,omitempty"`
	InvitedAs  string      `json:"invited_as"`
	Status     GroupStatus `json:"status"`
	InvitedAt  time.Time   `json:"invited_at"`
	AnsweredAt *time.Time  `json:"answered_at"`
}

// GroupMembership is a group as a member organisation sees it: the group's
// and the owner's names and its own status, never the other members.
type GroupMembership struct {
	GroupID    string      `json:"group_id"`
	GroupName  string      `json:"group_name"`
	OwnerOrgID string      `json:"owner_org_id"`
	OwnerName  string      `json:"owner_name"`
	Status     GroupStatus `json:"status"`
	InvitedAt  time.Time   `json:"invited_at"`
	AnsweredAt *time.Time  `json:"answered_at"`
}

// medicalKind reports whether k may own or join a hospital group.
func medicalKind(k OrgKind) bool {
	return k == KindHospital || k == KindClinic || k == KindPharmacy
}

// authorizeGroup asks the permission table whether p may do action to a
// group of its own organisation (or to its own organisation's membership),
// keeping the group's own message for a refusal.
func authorizeGroup(p *Principal, action, key string) error {
	err := Authorize(p, action, Target{OrgID: p.OrgID})
	if err != nil && apperr.Is(err, apperr.Forbidden) {
		return apperr.New(apperr.Forbidden, key)
	}
	return err
}

func normalizeGroupName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", apperr.Field("name", "group.name_required")
	}
	if utf8.RuneCountInString(name) > MaxGroupName {
		return "", apperr.Field("name", "group.name_too_long", MaxGroupName)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", apperr.Field("name", "group.name_invalid")
		}
	}
	return name, nil
}

// CreateGroup makes a group owned by p's organisation. Only admins of a
// hospital, clinic or pharmacy may; a name the organisation already uses
// is a Conflict.
func CreateGroup(ctx context.Context, q db.Querier, p *Principal, name string, now time.Time) (*Group, error) {
	if p == nil || p.OrgID == "" {
		return nil, apperr.New(apperr.Forbidden, "group.forbidden")
	}
	if err := authorizeGroup(p, actionGroupCreate, "group.forbidden"); err != nil {
		return nil, err
	}
	name, err := normalizeGroupName(name)
	if err != nil {
		return nil, err
	}
	g := &Group{ID: db.NewID(), OwnerOrgID: p.OrgID, OwnerName: p.OrgName, Name: name, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	_, err = q.Exec(ctx, `INSERT INTO org_groups (id, owner_org_id, name, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.OwnerOrgID, g.Name, p.UserID, g.CreatedAt, g.UpdatedAt)
	if errors.Is(err, db.ErrConflict) {
		return nil, apperr.Field("name", "group.name_taken", name)
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

const groupCols = `g.id, g.owner_org_id, o.name, g.name, g.created_at, g.updated_at`

func scanGroup(row interface{ Scan(...any) error }) (*Group, error) {
	var g Group
	if err := row.Scan(&g.ID, &g.OwnerOrgID, &g.OwnerName, &g.Name, &g.CreatedAt, &g.UpdatedAt); err != nil {
		return nil, db.ScanErr(err)
	}
	return &g, nil
}

// OwnedGroups lists the groups p's organisation owns, by name, without
// their members. Every role of the owner may list them.
func OwnedGroups(ctx context.Context, q db.Querier, p *Principal) ([]*Group, error) {
	gs, _, err := PageOwnedGroups(ctx, q, p, All)
	return gs, err
}

// groupKey is the position of a cursor in a list of groups by name.
type groupKey struct {
	Name string `json:"n"`
	ID   string `json:"i"`
}

var groupOrder = []SortKey{{"g.name", false}, {"g.id", false}}

func groupKeyValues(k groupKey) []any { return []any{k.Name, k.ID} }

var ownedGroupOrder = Keyset[*Group, groupKey]{Order: groupOrder, Values: groupKeyValues,
	Key: func(g *Group) groupKey { return groupKey{g.Name, g.ID} }}

// PageOwnedGroups is one page of OwnedGroups, and the cursor of the next.
func PageOwnedGroups(ctx context.Context, q db.Querier, p *Principal, pg Page) ([]*Group, string, error) {
	if p == nil || p.OrgID == "" {
		return nil, "", nil
	}
	return ownedGroupOrder.Query(ctx, q, pg, scanGroup, `SELECT `+groupCols+` FROM org_groups g JOIN organizations o ON o.id = g.owner_org_id
		WHERE g.owner_org_id = ?`, p.OrgID)
}

// GetGroup returns a group with its members if p's organisation owns it;
// any other group, also one p's organisation belongs to, is
// db.ErrNotFound.
func GetGroup(ctx context.Context, q db.Querier, p *Principal, id string) (*Group, error) {
	g, err := ownGroup(ctx, q, p, id)
	if err != nil {
		return nil, err
	}
	g.Members, err = groupMembers(ctx, q, g.ID)
	return g, err
}

// ownGroup reads group id, without its members, when p's organisation
// owns it; any other group is db.ErrNotFound.
func ownGroup(ctx context.Context, q db.Querier, p *Principal, id string) (*Group, error) {
	if p == nil || p.OrgID == "" || !db.ValidID(id) {
		return nil, db.ErrNotFound
	}
	return scanGroup(q.QueryRow(ctx, `SELECT `+groupCols+` FROM org_groups g JOIN organizations o ON o.id = g.owner_org_id
		WHERE g.id = ? AND g.owner_org_id = ?`, id, p.OrgID))
}

func groupMembers(ctx context.Context, q db.Querier, groupID string) ([]GroupMember, error) {
	return db.QueryAll(ctx, q, scanGroupMember, `SELECT m.group_id, m.org_id, CASE WHEN m.status = 'active' THEN o.name ELSE '' END, m.invited_as, m.status, m.invited_at, m.answered_at
		FROM org_group_members m JOIN organizations o ON o.id = m.org_id
		WHERE m.group_id = ? ORDER BY CASE m.status WHEN 'active' THEN 0 WHEN 'invited' THEN 1 ELSE 2 END, o.name_kana, o.name, m.invited_at, m.org_id`, groupID)
}

func scanGroupMember(row db.Scanner) (GroupMember, error) {
	var m GroupMember
	err := row.Scan(&m.GroupID, &m.OrgID, &m.OrgName, &m.InvitedAs, &m.Status, &m.InvitedAt, &m.AnsweredAt)
	return m, db.ScanErr(err)
}

// getOwnedGroup returns the group if p may do action to it (the table
// allows writing admins of its owner). Groups of others are
// db.ErrNotFound; the owner's other people get Forbidden.
func getOwnedGroup(ctx context.Context, q db.Querier, p *Principal, id, action string) (*Group, error) {
	g, err := ownGroup(ctx, q, p, id)
	if err != nil {
		return nil, err
	}
	if err := authorizeGroup(p, action, "group.forbidden"); err != nil {
		return nil, err
	}
	return g, nil
}

// DeleteGroup removes a group p's organisation owns, with its members and
// invitations, and returns what it was. Only the owner's admins may.
func DeleteGroup(ctx context.Context, q db.Querier, p *Principal, id string) (*Group, error) {
	g, err := getOwnedGroup(ctx, q, p, id, actionGroupDelete)
	if err != nil {
		return nil, err
	}
	if g.Members, err = groupMembers(ctx, q, g.ID); err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `DELETE FROM org_groups WHERE id = ? AND owner_org_id = ?`, g.ID, p.OrgID); err != nil {
		return nil, err
	}
	return g, nil
}

// InviteToGroup invites the organisation named by ref, its id or its
// 医療機関コード, into a group p's organisation owns. Only hospitals,
// clinics and pharmacies can be invited; a reference that matches none
// (or another kind) is an Invalid "ref" field error, one that matches
// several organisations asks for the id. Inviting the owner itself makes
// it a member at once. A declined invitation is renewed; a pending or
// accepted one is a Conflict.
func InviteToGroup(ctx context.Context, q db.Querier, p *Principal, groupID, ref string, now time.Time) (*GroupMember, error) {
	g, err := getOwnedGroup(ctx, q, p, groupID, actionGroupInvite)
	if err != nil {
		return nil, err
	}
	org, invitedAs, err := resolveGroupRef(ctx, q, ref)
	if err != nil {
		return nil, err
	}
	m := &GroupMember{GroupID: g.ID, OrgID: org.ID, InvitedAs: invitedAs, Status: GroupInvited, InvitedAt: now.UTC()}
	if org.ID == p.OrgID {
		m.Status, m.OrgName = GroupActive, org.Name
		at := now.UTC()
		m.AnsweredAt = &at
	}
	var status GroupStatus
	err = q.QueryRow(ctx, `SELECT status FROM org_group_members WHERE group_id = ? AND org_id = ?`, g.ID, org.ID).Scan(&status)
	switch err = db.ScanErr(err); {
	case errors.Is(err, db.ErrNotFound):
		_, err = q.Exec(ctx, `INSERT INTO org_group_members (group_id, org_id, status, invited_as, invited_by, invited_at, answered_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			m.GroupID, m.OrgID, m.Status, m.InvitedAs, p.UserID, m.InvitedAt, m.AnsweredAt)
		if errors.Is(err, db.ErrConflict) {
			return nil, apperr.Field("ref", "group.already_invited")
		}
	case err != nil:
	case status == GroupActive:
		return nil, apperr.Field("ref", "group.already_member")
	case status == GroupInvited:
		return nil, apperr.Field("ref", "group.already_invited")
	default:
		_, err = q.Exec(ctx, `UPDATE org_group_members SET status = ?, invited_as = ?, invited_by = ?, invited_at = ?, answered_at = ? WHERE group_id = ? AND org_id = ?`,
			m.Status, m.InvitedAs, p.UserID, m.InvitedAt, m.AnsweredAt, m.GroupID, m.OrgID)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// resolveGroupRef finds the medical organisation named by an id or a
// 医療機関コード (7 or 10 digits, hyphens and full-width digits allowed).
func resolveGroupRef(ctx context.Context, q db.Querier, ref string) (*Org, string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, "", apperr.Field("ref", "group.ref_required")
	}
	if db.ValidID(strings.ToLower(ref)) {
		ref = strings.ToLower(ref)
		o, err := getOrg(ctx, q, ref)
		if errors.Is(err, db.ErrNotFound) || err == nil && !medicalKind(o.Kind) {
			return nil, "", apperr.Field("ref", "group.ref_unknown")
		}
		return o, ref, err
	}
	code := strings.Map(func(r rune) rune {
		switch {
		case r >= '０' && r <= '９':
			return r - '０' + '0'
		case r == '-' || r == '－' || r == 'ー' || r == ' ' || r == '　':
			return -1
		}
		return r
	}, ref)
	if !medicalCodeRe.MatchString(code) {
		return nil, "", apperr.Field("ref", "group.ref_invalid")
	}
	found, err := db.QueryAll(ctx, q, scanOrg, `SELECT `+orgColumns+` FROM organizations WHERE medical_code = ? AND kind IN ('hospital', 'clinic', 'pharmacy') ORDER BY id LIMIT 2`, code)
	if err != nil {
		return nil, "", err
	}
	switch len(found) {
	case 0:
		return nil, "", apperr.Field("ref", "group.ref_unknown")
	case 1:
		return found[0], code, nil
	}
	return nil, "", apperr.Field("ref", "group.ref_ambiguous")
}

// GroupsOf lists the groups p's organisation is invited to or belongs to
// (declined invitations left out), by group name. Every role may list
// them.
func GroupsOf(ctx context.Context, q db.Querier, p *Principal) ([]GroupMembership, error) {
	ms, _, err := PageGroupsOf(ctx, q, p, All)
	return ms, err
}

var membershipOrder = Keyset[GroupMembership, groupKey]{Order: groupOrder, Values: groupKeyValues,
	Key: func(m GroupMembership) groupKey { return groupKey{m.GroupName, m.GroupID} }}

const groupMembershipSelect = `SELECT g.id, g.name, g.owner_org_id, o.name, m.status, m.invited_at, m.answered_at
		FROM org_group_members m JOIN org_groups g ON g.id = m.group_id JOIN organizations o ON o.id = g.owner_org_id`

func scanGroupMembership(r db.Scanner) (GroupMembership, error) {
	var m GroupMembership
	var answered *time.Time
	if err := r.Scan(&m.GroupID, &m.GroupName, &m.OwnerOrgID, &m.OwnerName, &m.Status, &m.InvitedAt, &answered); err != nil {
		return m, err
	}
	m.AnsweredAt = answered
	return m, nil
}

// PageGroupsOf is one page of GroupsOf, and the cursor of the next.
func PageGroupsOf(ctx context.Context, q db.Querier, p *Principal, pg Page) ([]GroupMembership, string, error) {
	if p == nil || p.OrgID == "" {
		return nil, "", nil
	}
	return membershipOrder.Query(ctx, q, pg, scanGroupMembership, groupMembershipSelect+`
		WHERE m.org_id = ? AND m.status IN ('invited', 'active')`, p.OrgID)
}

// getMembership returns p's organisation's place in group id; a group it
// is not invited to (or declined) is db.ErrNotFound.
func getMembership(ctx context.Context, q db.Querier, p *Principal, id string) (*GroupMembership, error) {
	if p == nil || p.OrgID == "" || !db.ValidID(id) {
		return nil, db.ErrNotFound
	}
	m, err := scanGroupMembership(q.QueryRow(ctx, groupMembershipSelect+`
		WHERE m.group_id = ? AND m.org_id = ? AND m.status IN ('invited', 'active')`, id, p.OrgID))
	if err != nil {
		return nil, db.ScanErr(err)
	}
	return &m, nil
}

// answerableMembership returns p's organisation's place in group id for
// a change its admins may make (action) from status want; another status
// is a Conflict with conflictKey.
func answerableMembership(ctx context.Context, q db.Querier, p *Principal, id, action string, want GroupStatus, conflictKey string) (*GroupMembership, error) {
	m, err := getMembership(ctx, q, p, id)
	if err != nil {
		return nil, err
	}
	if err := authorizeGroup(p, action, "group.forbidden_answer"); err != nil {
		return nil, err
	}
	if m.Status != want {
		return nil, apperr.New(apperr.Conflict, conflictKey)
	}
	return m, nil
}

// AnswerGroupInvite accepts or declines the pending invitation of p's
// organisation into group id. Only its admins may; a group without a
// pending invitation for it is db.ErrNotFound, an accepted one a Conflict.
func AnswerGroupInvite(ctx context.Context, q db.Querier, p *Principal, id string, accept bool, now time.Time) (*GroupMembership, error) {
	m, err := answerableMembership(ctx, q, p, id, actionGroupAccept, GroupInvited, "group.already_answered")
	if err != nil {
		return nil, err
	}
	m.Status = GroupDeclined
	if accept {
		m.Status = GroupActive
	}
	at := now.UTC()
	m.AnsweredAt = &at
	if _, err := q.Exec(ctx, `UPDATE org_group_members SET status = ?, answered_at = ? WHERE group_id = ? AND org_id = ? AND status = 'invited'`,
		m.Status, m.AnsweredAt, id, p.OrgID); err != nil {
		return nil, err
	}
	return m, nil
}

// LeaveGroup ends p's organisation's membership of group id. Only its
// admins may; a group it does not belong to is db.ErrNotFound, and a
// pending invitation is declined with AnswerGroupInvite instead (a
// Conflict here).
func LeaveGroup(ctx context.Context, q db.Querier, p *Principal, id string) (*GroupMembership, error) {
	m, err := answerableMembership(ctx, q, p, id, actionGroupLeave, GroupActive, "group.not_yet_member")
	if err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `DELETE FROM org_group_members WHERE group_id = ? AND org_id = ?`, id, p.OrgID); err != nil {
		return nil, err
	}
	return m, nil
}

// RemoveGroupMember takes organisation orgID out of a group p's
// organisation owns: a member, a pending invitation or a declined one.
// Only the owner's admins may; an organisation not in the group is
// db.ErrNotFound.
func RemoveGroupMember(ctx context.Context, q db.Querier, p *Principal, groupID, orgID string) (*GroupMember, error) {
	g, err := getOwnedGroup(ctx, q, p, groupID, actionGroupRemove)
	if err != nil {
		return nil, err
	}
	if !db.ValidID(orgID) {
		return nil, db.ErrNotFound
	}
	m, err := scanGroupMember(q.QueryRow(ctx, `SELECT m.group_id, m.org_id, CASE WHEN m.status = 'active' THEN o.name ELSE '' END, m.invited_as, m.status, m.invited_at, m.answered_at
		FROM org_group_members m JOIN organizations o ON o.id = m.org_id WHERE m.group_id = ? AND m.org_id = ?`, g.ID, orgID))
	if err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `DELETE FROM org_group_members WHERE group_id = ? AND org_id = ?`, g.ID, orgID); err != nil {
		return nil, err
	}
	return &m, nil
}

// ActiveGroupMemberIDs returns the ids of the organisations that accepted
// the invitation into a group p's organisation owns, for counting their
// progress. Every role of the owner may ask; another organisation's group
// is db.ErrNotFound.
func ActiveGroupMemberIDs(ctx context.Context, q db.Querier, p *Principal, groupID string) ([]string, error) {
	g, err := GetGroup(ctx, q, p, groupID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range g.Members {
		if m.Status == GroupActive {
			ids = append(ids, m.OrgID)
		}
	}
	return ids, nil
}
