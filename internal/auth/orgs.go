package auth

import (
	"context"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/jobs"
)

// Orgs is the service of organisations and their people: the records,
// invitations, operators' proposals, memberships and API tokens. Each
// state-changing use case is one method that asks the permission table,
// writes in its own transaction, mails what has to be mailed (queued in
// the same transaction) and records the one audit entry of the action,
// so the web, the API and the command line leave the same trail. It is
// built once per node and shared by every door.
type Orgs struct {
	DB    *db.DB
	Audit *audit.Log
	// Notices mails the organisations' admins and the invitees; nil (or
	// one without Mail) mails nothing, and invitations are refused.
	Notices *Notices
	// Queue holds the background jobs operators may retry; nil: none.
	Queue *jobs.Queue
	Now   func() time.Time
}

func (s *Orgs) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Orgs) record(ctx context.Context, q db.Querier, p *Principal, ev audit.Event) error {
	if s.Audit == nil {
		return nil
	}
	return s.Audit.Record(ctx, q, p.Actor(), ev)
}

// CreateOrg registers an organisation ("org.create": ISAC operator admins,
// and the command line) and, when admin.Email is set, invites its first
// admin in the same transaction. The entries: "org.create" (object
// "org"), then the invitation's.
func (s *Orgs) CreateOrg(ctx context.Context, p *Principal, in OrgInput, admin InviteInput) (*Org, *Invitation, error) {
	if err := Authorize(p, "org.create", Target{}); err != nil {
		return nil, nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, nil, err
	}
	if admin.Email != "" {
		if err := s.canMail(); err != nil {
			return nil, nil, err
		}
	}
	var o *Org
	var inv *Invitation
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		now := s.now()
		if o, err = CreateOrg(ctx, tx, in, now); err != nil {
			return err
		}
		if err := s.record(ctx, tx, p, audit.Event{OrgID: o.ID, Action: audit.ActionOrgCreate, ObjectType: "org", ObjectID: o.ID,
			Details: map[string]any{"name": o.Name, "kind": string(o.Kind)}}); err != nil {
			return err
		}
		if admin.Email == "" {
			return nil
		}
		// A new organisation has no admin: its first admin's invitation
		// is mailed to nobody but the invitee.
		admin.Role = RoleAdmin
		inv, err = s.invite(ctx, tx, p, o.ID, admin, now)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return o, inv, nil
}

// UpdateOrg changes organisation id: edit gets the current values and
// sets the new ones (an empty Kind or MFA policy keeps the current one).
// Who may change which field is UpdateOrg's (the function's) answer. A
// change records one entry, "org.update" or "org.update.kind" (object
// "org", in the organisation's log, with a copy in the actor's own log
// when an operator changes another organisation); no change records none.
func (s *Orgs) UpdateOrg(ctx context.Context, p *Principal, id string, edit func(in *OrgInput)) (before, after *Org, err error) {
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		cur, err := GetOrg(ctx, tx, p, id)
		if err != nil {
			return err
		}
		in := OrgInput{Kind: cur.Kind, Name: cur.Name, NameKana: cur.NameKana, Prefecture: cur.Prefecture,
			MedicalCode: cur.MedicalCode, Beds: cur.Beds, MFAPolicy: cur.MFAPolicy}
		edit(&in)
		if before, after, err = UpdateOrg(ctx, tx, s.Notices, p, id, in, s.now()); err != nil {
			return err
		}
		ch := OrgChanges(before, after)
		if len(ch) == 0 {
			return nil
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: id, Action: OrgUpdateAction(before, after), ObjectType: "org", ObjectID: id, Details: ch})
	})
	if err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// canMail refuses invitations when no mail can be sent: the link would
// reach nobody.
func (s *Orgs) canMail() error {
	if s.Notices == nil || s.Notices.Mail == nil || s.Notices.Catalog == nil {
		return apperr.New(apperr.Unavailable, "auth.mail.unavailable")
	}
	return nil
}

// Invite invites a person into orgID as the permission table says (see
// the function Invite): an invitation mailed now ("org.invite", object
// "invitation" named by the address) or an operator's proposal waiting
// for the organisation's admins ("org.proposal", object "proposal").
func (s *Orgs) Invite(ctx context.Context, p *Principal, orgID string, in InviteInput) (*Invitation, error) {
	if err := s.canMail(); err != nil {
		return nil, err
	}
	var inv *Invitation
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		inv, err = s.invite(ctx, tx, p, orgID, in, s.now())
		return err
	})
	return inv, err
}

func (s *Orgs) invite(ctx context.Context, tx *db.Tx, p *Principal, orgID string, in InviteInput, now time.Time) (*Invitation, error) {
	inv, err := Invite(ctx, tx, s.Notices, p, orgID, in, now)
	if err != nil {
		return nil, err
	}
	if pr := inv.Proposal; pr != nil {
		return inv, s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionProposal, ObjectType: "proposal", ObjectID: pr.ID,
			Details: map[string]any{"email": pr.Email, "role": string(pr.Role), "proposer_org_id": pr.ProposerOrgID}})
	}
	if err := s.Notices.invitation(ctx, tx, p, orgID, inv); err != nil {
		return nil, err
	}
	return inv, s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionInvite, ObjectType: "invitation", ObjectID: inv.Link.Email,
		Details: map[string]any{"email": inv.Link.Email, "role": string(inv.Link.Role)}})
}

// RevokeInvite cancels orgID's pending invitations to email
// ("org.invite.revoke", object "invitation").
func (s *Orgs) RevokeInvite(ctx context.Context, p *Principal, orgID, email string) error {
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := RevokeInvite(ctx, tx, s.Notices, p, orgID, email, s.now()); err != nil {
			return err
		}
		e, _ := NormalizeEmail(email)
		return s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionInviteRevoke, ObjectType: "invitation", ObjectID: e,
			Details: map[string]any{"email": e}})
	})
}

// AnswerProposal accepts (mailing the invitation) or declines a pending
// proposal of orgID ("org.proposal.answer"; the entry is
// "org.proposal.accept" or "org.proposal.decline", object "proposal").
func (s *Orgs) AnswerProposal(ctx context.Context, p *Principal, orgID, id string, accept bool) (*Proposal, *Invitation, error) {
	if accept {
		if err := s.canMail(); err != nil {
			return nil, nil, err
		}
	}
	var pr *Proposal
	var inv *Invitation
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if pr, inv, err = AnswerProposal(ctx, tx, s.Notices, p, orgID, id, accept, s.now()); err != nil {
			return err
		}
		action := audit.ActionProposalDecline
		if accept {
			action = audit.ActionProposalAccept
			if err := s.Notices.invitation(ctx, tx, p, orgID, inv); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: action, ObjectType: "proposal", ObjectID: pr.ID,
			Details: map[string]any{"email": pr.Email, "role": string(pr.Role), "proposer_org_id": pr.ProposerOrgID}})
	})
	if err != nil {
		return nil, nil, err
	}
	return pr, inv, nil
}

// ChangeRole changes a member's role ("org.member.role", object "user");
// setting the role a member already has changes and records nothing.
func (s *Orgs) ChangeRole(ctx context.Context, p *Principal, orgID, userID string, role Role) (*Membership, error) {
	var m *Membership
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var from Role
		var err error
		m, from, err = ChangeRole(ctx, tx, s.Notices, p, orgID, userID, role)
		if err != nil || from == m.Role {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionMemberRole, ObjectType: "user", ObjectID: userID,
			Details: map[string]any{"email": m.Email, "from": string(from), "to": string(m.Role)}})
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// RemoveMember removes a person from orgID ("org.member.remove", object
// "user").
func (s *Orgs) RemoveMember(ctx context.Context, p *Principal, orgID, userID string) error {
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		m, err := RemoveMember(ctx, tx, s.Notices, p, orgID, userID)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionMemberRemove, ObjectType: "user", ObjectID: userID,
			Details: map[string]any{"email": m.Email, "role": string(m.Role)}})
	})
}

// TokenInput is a new API token.
type TokenInput struct {
	Name    string
	Write   bool
	Expires *time.Time
}

// CreateToken issues an API token to userID ("" for p itself) in orgID
// ("" for p's organisation) and returns its secret, shown once
// ("auth.token.create", object "token").
func (s *Orgs) CreateToken(ctx context.Context, p *Principal, userID, orgID string, in TokenInput) (string, *APIToken, error) {
	if userID == "" {
		userID = p.UserID
	}
	if orgID == "" {
		orgID = p.OrgID
	}
	if err := Authorize(p, "auth.token.create", Target{UserID: userID}); err != nil {
		return "", nil, err
	}
	var raw string
	var t *APIToken
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if raw, t, err = CreateToken(ctx, tx, userID, orgID, in.Name, in.Write, in.Expires, s.now()); err != nil {
			return err
		}
		details := map[string]any{"name": t.Name, "write": t.Write, "owner_id": userID}
		if in.Expires != nil {
			details["expires_at"] = in.Expires.UTC().Format(time.RFC3339)
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionTokenCreate, ObjectType: "token", ObjectID: t.ID, Details: details})
	})
	if err != nil {
		return "", nil, err
	}
	return raw, t, nil
}

// RevokeToken deletes one of p's own tokens ("auth.token.revoke", object
// "token"); anyone else's is not found.
func (s *Orgs) RevokeToken(ctx context.Context, p *Principal, id string) error {
	if err := Authorize(p, "auth.token.revoke", Target{UserID: p.UserID}); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := RevokeToken(ctx, tx, p.UserID, id); err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{Action: audit.ActionTokenRevoke, ObjectType: "token", ObjectID: id})
	})
}

// RetryJob puts a failed background job back in the queue
// ("settings.job.retry", object "job").
func (s *Orgs) RetryJob(ctx context.Context, p *Principal, id string) error {
	if err := Authorize(p, "settings.job.retry", Target{}); err != nil {
		return err
	}
	if s.Queue == nil {
		return db.ErrNotFound
	}
	if err := s.Queue.Retry(ctx, id); err != nil {
		return err
	}
	return s.record(ctx, s.DB, p, audit.Event{Action: audit.ActionJobRetry, ObjectType: "job", ObjectID: id})
}

// SwitchOrg moves p's session (sessionHash) to orgID, one of p's
// organisations (an organisation switch, object "organization", in orgID's
// log). The caller has checked that p belongs to orgID and may enter it.
func (s *Orgs) SwitchOrg(ctx context.Context, p *Principal, sessionHash, orgID string) error {
	return s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := SwitchSessionOrg(ctx, tx, sessionHash, orgID); err != nil {
			return err
		}
		return s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionOrgSwitch, ObjectType: "organization", ObjectID: orgID,
			Details: map[string]any{"from": p.OrgID}})
	})
}

// AddUser makes the person in (created when no account has the address;
// given a password, it is set) a member of orgID in role
// ("org.member.add", object "user"). Only the command line may: it
// stands for whoever runs the server. When the person has no password,
// it returns a link token to set one (valid InviteTTL).
func (s *Orgs) AddUser(ctx context.Context, p *Principal, orgID string, in NewUser, role Role) (*User, string, error) {
	if p == nil || !p.System {
		return nil, "", apperr.New(apperr.Forbidden, "error.forbidden")
	}
	var u *User
	var raw string
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		now := s.now()
		if _, err := getOrg(ctx, tx, orgID); err != nil {
			return err
		}
		var err error
		if u, err = GetUserByEmail(ctx, tx, in.Email); err != nil {
			if u, err = CreateUser(ctx, tx, in, now); err != nil {
				return err
			}
		} else if in.Password != "" {
			if err := SetPassword(ctx, tx, u, in.Password, now); err != nil {
				return err
			}
		}
		if err := AddMember(ctx, tx, orgID, u.ID, role, now); err != nil {
			return err
		}
		if err := s.record(ctx, tx, p, audit.Event{OrgID: orgID, Action: audit.ActionMemberAdd, ObjectType: "user", ObjectID: u.ID,
			Details: map[string]any{"email": u.Email, "role": string(role)}}); err != nil {
			return err
		}
		if in.Password == "" && u.PasswordHash == "" {
			raw, err = CreateLink(ctx, tx, EmailLink{Kind: LinkReset, Email: u.Email, UserID: u.ID, OrgID: orgID}, InviteTTL, now)
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return u, raw, nil
}
