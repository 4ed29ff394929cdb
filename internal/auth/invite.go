package auth

import (
	"context"
	"strings"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
	"github.com/medisac/medisac/internal/i18n"
)

// InviteLimit bounds the invitations and proposals one organisation may get
// per hour, so that no door can be used to flood addresses with mail.
const InviteLimit = 50

// InviteInput is who to invite into an organisation, and in which role.
type InviteInput struct {
	Email string
	Role  Role
	// Lang is the language of the invitation mail when the person has no
	// account yet ("" when unknown).
	Lang string
}

// Invitation is the outcome of Invite: either an invitation link to mail
// now (Link and Raw), or, for an operator's invitation into an
// organisation that has admins, a Proposal that waits for their consent.
type Invitation struct {
	Link *EmailLink
	// Raw is the link's token for the invitation mail; the caller mails it
	// in the same transaction.
	Raw string
	// Lang is the language of the invitation mail ("" when unknown).
	Lang     string
	Proposal *Proposal
}

// Proposal is an ISAC operator's invitation into an organisation that has
// admins: nothing reaches the invitee until one of them accepts.
type Proposal struct {
	ID            string     `json:"id"`
	OrgID         string     `json:"org_id"`
	Email         string     `json:"email"`
	Role          Role       `json:"role"`
	Lang          string     `json:"-"`
	ProposedBy    string     `json:"proposed_by"`
	ProposerEmail string     `json:"proposer_email"`
	ProposerOrgID string     `json:"proposer_org_id"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"created_at"`
	AnsweredBy    string     `json:"answered_by,omitempty"`
	AnsweredAt    *time.Time `json:"answered_at,omitempty"`
}

// The states of a proposal.
const (
	ProposalPending  = "pending"
	ProposalAccepted = "accepted"
	ProposalDeclined = "declined"
)

// ActiveAdminCount returns how many admins of orgID can sign in. Anyone who
// may see the organisation record may ask (operators use it to know
// whether an invitation is a first admin's or a proposal).
func ActiveAdminCount(ctx context.Context, q db.Querier, p *Principal, orgID string) (int, error) {
	if !p.CanSeeOrg(orgID) {
		return 0, db.ErrNotFound
	}
	as, err := activeAdmins(ctx, q, orgID)
	return len(as), err
}

// Invite invites a person into orgID, deciding by the permission table how:
//
//   - the organisation's own admins invite directly ("org.invite");
//   - ISAC operator admins invite the first admin of an organisation that
//     has no active admin ("org.invite.first": at creation, or to recover
//     an organisation whose admins are gone);
//   - otherwise an operator admin's invitation becomes a proposal
//     ("org.proposal"), mailed to every admin of the organisation; the
//     invitee hears nothing until one of them accepts (AnswerProposal).
//
// Anyone else is refused as Authorize says (another organisation looks
// missing). The change is mailed to the organisation's admins through n,
// in q's transaction; the caller mails the invitation link (Raw) and
// records the audit entry.
func Invite(ctx context.Context, q db.Querier, n *Notices, p *Principal, orgID string, in InviteInput, now time.Time) (*Invitation, error) {
	t := Target{OrgID: orgID}
	proposal := false
	if !Allowed(p, "org.invite", t) {
		if !p.IsOperator() {
			return nil, Authorize(p, "org.invite", t)
		}
		if _, err := getOrg(ctx, q, orgID); err != nil {
			return nil, err
		}
		admins, err := activeAdmins(ctx, q, orgID)
		if err != nil {
			return nil, err
		}
		if len(admins) == 0 {
			if err := Authorize(p, "org.invite.first", t); err != nil {
				return nil, err
			}
			if in.Role != RoleAdmin {
				return nil, apperr.Field("role", "auth.invite.first_admin")
			}
		} else {
			if err := Authorize(p, "org.proposal", t); err != nil {
				return nil, err
			}
			proposal = true
		}
	}
	org, err := getOrg(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if !in.Role.Valid() {
		return nil, apperr.Field("role", "auth.role.invalid")
	}
	lang := in.Lang
	if u, err := GetUserByEmail(ctx, q, email); err == nil {
		if _, err := getMember(ctx, q, orgID, u.ID); err == nil {
			return nil, &apperr.Error{Code: apperr.Conflict, Key: "auth.invite.already_member", Field: "email"}
		} else if !apperr.Is(err, apperr.NotFound) {
			return nil, err
		}
		lang = u.Lang
	} else if !apperr.Is(err, apperr.NotFound) {
		return nil, err
	}
	if !i18n.Valid(lang) {
		lang = ""
	}
	ok, err := Allow(ctx, q, "invite:"+orgID, InviteLimit, time.Hour, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.New(apperr.RateLimited, "auth.invite.rate_limited")
	}
	if proposal {
		pr, err := propose(ctx, q, p, org, email, in.Role, lang, now)
		if err != nil {
			return nil, err
		}
		if err := n.send(ctx, q, org, noticeProposed, who(p), oneLine(p.OrgName), email, roleArg(in.Role),
			proposalsLink(n)); err != nil {
			return nil, err
		}
		return &Invitation{Proposal: pr}, nil
	}
	inv, err := createInvitation(ctx, q, org, email, in.Role, lang, p.UserID, now)
	if err != nil {
		return nil, err
	}
	return inv, n.send(ctx, q, org, noticeInvited, who(p), email, roleArg(in.Role))
}

func createInvitation(ctx context.Context, q db.Querier, org *Org, email string, role Role, lang, by string, now time.Time) (*Invitation, error) {
	l := EmailLink{Kind: LinkInvite, Email: email, OrgID: org.ID, Role: role, CreatedBy: by, CreatedAt: now.UTC(), ExpiresAt: now.Add(InviteTTL).UTC()}
	raw, err := CreateLink(ctx, q, l, InviteTTL, now)
	if err != nil {
		return nil, err
	}
	return &Invitation{Link: &l, Raw: raw, Lang: lang}, nil
}

// proposalsLink is the members page where an organisation's admins answer
// proposals.
func proposalsLink(n *Notices) string {
	if n == nil {
		return ""
	}
	return strings.TrimRight(n.BaseURL, "/") + "/org#proposals"
}

func propose(ctx context.Context, q db.Querier, p *Principal, org *Org, email string, role Role, lang string, now time.Time) (*Proposal, error) {
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM org_proposals WHERE org_id = ? AND email = ? AND status = 'pending'`, org.ID, email).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, &apperr.Error{Code: apperr.Conflict, Key: "auth.proposal.pending", Field: "email"}
	}
	pr := &Proposal{ID: db.NewID(), OrgID: org.ID, Email: email, Role: role, Lang: lang, ProposedBy: p.UserID, ProposerEmail: p.Email,
		ProposerOrgID: p.OrgID, Status: ProposalPending, CreatedAt: now.UTC()}
	_, err := q.Exec(ctx, `INSERT INTO org_proposals (id, org_id, email, role, lang, proposed_by, proposer_email, proposer_org_id, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, pr.ID, pr.OrgID, pr.Email, string(pr.Role), pr.Lang, pr.ProposedBy, pr.ProposerEmail, pr.ProposerOrgID, pr.Status, pr.CreatedAt)
	if err != nil {
		return nil, err
	}
	return pr, nil
}

const proposalColumns = `id, org_id, email, role, lang, proposed_by, proposer_email, proposer_org_id, status, created_at, answered_by, answered_at`

func scanProposal(row interface{ Scan(...any) error }) (*Proposal, error) {
	var pr Proposal
	var role string
	if err := row.Scan(&pr.ID, &pr.OrgID, &pr.Email, &role, &pr.Lang, &pr.ProposedBy, &pr.ProposerEmail, &pr.ProposerOrgID, &pr.Status,
		&pr.CreatedAt, &pr.AnsweredBy, &pr.AnsweredAt); err != nil {
		return nil, db.ScanErr(err)
	}
	pr.Role = Role(role)
	return &pr, nil
}

// PendingProposals lists the proposals waiting for orgID's admins, oldest
// first. Only its admins may read them ("org.proposal.read").
func PendingProposals(ctx context.Context, q db.Querier, p *Principal, orgID string) ([]*Proposal, error) {
	if err := Authorize(p, "org.proposal.read", Target{OrgID: orgID}); err != nil {
		return nil, err
	}
	return db.QueryAll(ctx, q, scanProposal, `SELECT `+proposalColumns+` FROM org_proposals WHERE org_id = ? AND status = 'pending' ORDER BY created_at, id`, orgID)
}

// AnswerProposal accepts or declines a pending proposal of orgID. Only its
// admins may ("org.proposal.answer"); a proposal of another organisation,
// or one already answered, is not found. Accepting creates the invitation
// (returned, for the caller to mail in the same transaction); declining
// sends nothing to the invitee. Either way the organisation's admins are
// mailed.
func AnswerProposal(ctx context.Context, q db.Querier, n *Notices, p *Principal, orgID, id string, accept bool, now time.Time) (*Proposal, *Invitation, error) {
	if err := Authorize(p, "org.proposal.answer", Target{OrgID: orgID}); err != nil {
		return nil, nil, err
	}
	if !db.ValidID(id) {
		return nil, nil, db.ErrNotFound
	}
	pr, err := scanProposal(q.QueryRow(ctx, `SELECT `+proposalColumns+` FROM org_proposals WHERE id = ? AND org_id = ? AND status = 'pending'`, id, orgID))
	if err != nil {
		return nil, nil, err
	}
	org, err := getOrg(ctx, q, orgID)
	if err != nil {
		return nil, nil, err
	}
	status := ProposalDeclined
	if accept {
		status = ProposalAccepted
	}
	res, err := q.Exec(ctx, `UPDATE org_proposals SET status = ?, answered_by = ?, answered_at = ? WHERE id = ? AND org_id = ? AND status = 'pending'`,
		status, p.UserID, now.UTC(), id, orgID)
	if err != nil {
		return nil, nil, err
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return nil, nil, db.ErrNotFound
	}
	pr.Status, pr.AnsweredBy = status, p.UserID
	t := now.UTC()
	pr.AnsweredAt = &t
	if !accept {
		return pr, nil, n.send(ctx, q, org, noticeProposalDeclined, who(p), pr.ProposerEmail, pr.Email, roleArg(pr.Role))
	}
	if u, err := GetUserByEmail(ctx, q, pr.Email); err == nil {
		if _, err := getMember(ctx, q, orgID, u.ID); err == nil {
			return nil, nil, &apperr.Error{Code: apperr.Conflict, Key: "auth.invite.already_member", Field: "email"}
		}
	}
	inv, err := createInvitation(ctx, q, org, pr.Email, pr.Role, pr.Lang, p.UserID, now)
	if err != nil {
		return nil, nil, err
	}
	return pr, inv, n.send(ctx, q, org, noticeProposalAccepted, who(p), pr.ProposerEmail, pr.Email, roleArg(pr.Role))
}

// RevokeInvite cancels orgID's pending invitations to email. Only its
// admins may ("org.invite.revoke"); no pending invitation is not found.
func RevokeInvite(ctx context.Context, q db.Querier, n *Notices, p *Principal, orgID, email string, now time.Time) error {
	if err := Authorize(p, "org.invite.revoke", Target{OrgID: orgID}); err != nil {
		return err
	}
	org, err := getOrg(ctx, q, orgID)
	if err != nil {
		return err
	}
	email, err = NormalizeEmail(email)
	if err != nil {
		return db.ErrNotFound
	}
	res, err := q.Exec(ctx, `UPDATE email_tokens SET expires_at = ? WHERE kind = 'invite' AND org_id = ? AND email = ? AND used_at IS NULL AND expires_at > ?`,
		now, orgID, email, now)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return db.ErrNotFound
	}
	return n.send(ctx, q, org, noticeRevoked, who(p), email)
}

// JoinByInvite makes the person u a member as invitation l says (l already
// used by UseLink in q's transaction), and mails the organisation's admins.
func JoinByInvite(ctx context.Context, q db.Querier, n *Notices, l *EmailLink, u *User, now time.Time) error {
	if err := AddMember(ctx, q, l.OrgID, u.ID, l.Role, now); err != nil {
		return err
	}
	org, err := getOrg(ctx, q, l.OrgID)
	if err != nil {
		return err
	}
	name := u.Email
	if u.DisplayName != "" {
		name = oneLine(u.DisplayName) + " <" + u.Email + ">"
	}
	return n.send(ctx, q, org, noticeJoined, name, roleArg(l.Role))
}
