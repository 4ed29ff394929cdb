package auth

import (
	"context"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
)

// The entries of hospital groups that have no rule of their own: declining
// an invitation is answered under "group.accept".
const actionGroupDecline = "group.decline"

// The use cases of hospital groups (病院グループ). Each records one entry,
// object "group" named by the group's id; a change that concerns another
// organisation (the invited, answering, leaving or removed one) is
// recorded in that organisation's log with a copy in the actor's own, so
// both sides see it.

// CreateGroup makes a group owned by p's organisation ("group.create").
func (s *Orgs) CreateGroup(ctx context.Context, p *Principal, name string) (*Group, error) {
	return write(ctx, s, p, func(tx *db.Tx) (*Group, error) {
		return CreateGroup(ctx, tx, p, name, s.now())
	}, func(g *Group) audit.Event {
		return audit.Event{OrgID: p.OrgID, Action: actionGroupCreate, ObjectType: "group", ObjectID: g.ID,
			Details: map[string]any{"name": g.Name}}
	})
}

// DeleteGroup removes a group p's organisation owns ("group.delete"). Each
// other organisation that was in it finds the entry in its own log too.
func (s *Orgs) DeleteGroup(ctx context.Context, p *Principal, id string) (*Group, error) {
	var g *Group
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if g, err = DeleteGroup(ctx, tx, p, id); err != nil {
			return err
		}
		if err := s.record(ctx, tx, p, audit.Event{OrgID: p.OrgID, Action: actionGroupDelete, ObjectType: "group", ObjectID: g.ID,
			Details: map[string]any{"name": g.Name, "members": len(g.Members)}}); err != nil {
			return err
		}
		if s.Audit == nil {
			return nil
		}
		for _, m := range g.Members {
			if m.OrgID == p.OrgID {
				continue
			}
			if _, err := s.Audit.Append(ctx, tx, p.Actor().Entry(audit.Event{OrgID: m.OrgID, Action: actionGroupDelete, ObjectType: "group",
				ObjectID: g.ID, Details: map[string]any{"name": g.Name}})); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// InviteToGroup invites the organisation named by ref (its id or its
// 医療機関コード) into group id ("group.invite", in the invited
// organisation's log).
func (s *Orgs) InviteToGroup(ctx context.Context, p *Principal, id, ref string) (*GroupMember, error) {
	var m *GroupMember
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if m, err = InviteToGroup(ctx, tx, p, id, ref, s.now()); err != nil {
			return err
		}
		g, err := GetGroup(ctx, tx, p, id)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: m.OrgID, Action: actionGroupInvite, ObjectType: "group", ObjectID: g.ID,
			Details: map[string]any{"group_name": g.Name, "org": m.OrgID, "invited_as": m.InvitedAs, "status": string(m.Status)}})
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// RemoveGroupMember takes organisation orgID out of group id
// ("group.remove", in the removed organisation's log).
func (s *Orgs) RemoveGroupMember(ctx context.Context, p *Principal, id, orgID string) (*GroupMember, error) {
	var m *GroupMember
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		g, err := GetGroup(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if m, err = RemoveGroupMember(ctx, tx, p, id, orgID); err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: m.OrgID, Action: actionGroupRemove, ObjectType: "group", ObjectID: g.ID,
			Details: map[string]any{"group_name": g.Name, "org": m.OrgID, "status": string(m.Status)}})
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// AnswerGroupInvite accepts or declines the invitation of p's
// organisation into group id ("group.accept" or "group.decline", in the
// owner's log).
func (s *Orgs) AnswerGroupInvite(ctx context.Context, p *Principal, id string, accept bool) (*GroupMembership, error) {
	action := actionGroupDecline
	if accept {
		action = actionGroupAccept
	}
	return write(ctx, s, p, func(tx *db.Tx) (*GroupMembership, error) {
		return AnswerGroupInvite(ctx, tx, p, id, accept, s.now())
	}, membershipEntry(p, action))
}

// LeaveGroup ends the membership of p's organisation in group id
// ("group.leave", in the owner's log).
func (s *Orgs) LeaveGroup(ctx context.Context, p *Principal, id string) (*GroupMembership, error) {
	return write(ctx, s, p, func(tx *db.Tx) (*GroupMembership, error) {
		return LeaveGroup(ctx, tx, p, id)
	}, membershipEntry(p, actionGroupLeave))
}

// membershipEntry is the entry of a change to the membership of p's
// organisation in a group: action, in the owner's log.
func membershipEntry(p *Principal, action string) func(*GroupMembership) audit.Event {
	return func(m *GroupMembership) audit.Event {
		return audit.Event{OrgID: m.OwnerOrgID, Action: action, ObjectType: "group", ObjectID: m.GroupID,
			Details: map[string]any{"group_name": m.GroupName, "owner": m.OwnerName, "org": p.OrgID}}
	}
}
