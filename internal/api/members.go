package api

import (
	"net/http"

	"github.com/medisac/medisac/internal/auth"
)

// memberList is the body of GET /api/v1/orgs/{id}/members.
type memberList struct {
	Members    []auth.Membership `json:"members"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// listMembers lists an organisation's members, a page at a time. The list
// holds personal data (names, addresses), so every read is recorded.
func (a *API) listMembers(w http.ResponseWriter, r *http.Request, c *call) error {
	return listPage(a, w, r, func(p auth.Page) ([]auth.Membership, string, error) {
		return a.Orgs.ReadMembersPage(r.Context(), c.p, r.PathValue("id"), p)
	}, func(ms []auth.Membership, next string) any { return memberList{ms, next} })
}

func (a *API) changeRole(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, userID := r.PathValue("id"), r.PathValue("user")
	if _, err := auth.GetMember(ctx, a.DB, c.p, orgID, userID); err != nil {
		return err
	}
	in, err := readDecoded(r, decodeRole)
	if err != nil {
		return err
	}
	m, err := a.Orgs.ChangeRole(ctx, c.p, orgID, userID, in.Role)
	return a.send(w, http.StatusOK, m, err)
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, userID := r.PathValue("id"), r.PathValue("user")
	return noContent(w, a.Orgs.RemoveMember(ctx, c.p, orgID, userID))
}

// invitationList is the body of GET /api/v1/orgs/{id}/invitations.
type invitationList struct {
	Invitations []invitation `json:"invitations"`
}

func (a *API) listInvitations(w http.ResponseWriter, r *http.Request, c *call) error {
	ls, err := auth.PendingInvites(r.Context(), a.DB, c.p, r.PathValue("id"), a.Now())
	if err != nil {
		return err
	}
	out := invitationList{Invitations: []invitation{}}
	for _, l := range ls {
		out.Invitations = append(out.Invitations, invitation{Email: l.Email, OrgID: l.OrgID, Role: l.Role, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt})
	}
	a.reply(w, http.StatusOK, out)
	return nil
}

// proposalCreated is the body of POST /api/v1/orgs/{id}/invitations when an
// ISAC operator invites into an organisation that has admins: the
// invitation waits for their consent (202 Accepted).
type proposalCreated struct {
	Proposal *auth.Proposal `json:"proposal"`
}

// invite invites a person. The organisation's admins invite directly (201);
// an ISAC operator admin's invitation into an organisation with admins is
// a proposal they accept or decline (202); who may do which is the
// permission table's answer (auth.Invite).
func (a *API) invite(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID := r.PathValue("id")
	org, err := auth.GetOrg(ctx, a.DB, c.p, orgID)
	if err != nil {
		return err
	}
	in, err := readDecoded(r, decodeInvite)
	if err != nil {
		return err
	}
	res, err := a.Orgs.Invite(ctx, c.p, org.ID, auth.InviteInput{Email: in.Email, Role: in.Role})
	if err != nil {
		return err
	}
	pr := res.Proposal
	if pr != nil {
		a.reply(w, http.StatusAccepted, proposalCreated{Proposal: pr})
		return nil
	}
	a.reply(w, http.StatusCreated, invitationOf(res))
	return nil
}

// revokeInvitation cancels the pending invitations of {id} to {email}.
func (a *API) revokeInvitation(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, email := r.PathValue("id"), r.PathValue("email")
	return noContent(w, a.Orgs.RevokeInvite(ctx, c.p, orgID, email))
}

// proposalList is the body of GET /api/v1/orgs/{id}/proposals.
type proposalList struct {
	Proposals []*auth.Proposal `json:"proposals"`
}

func (a *API) listProposals(w http.ResponseWriter, r *http.Request, c *call) error {
	ps, err := auth.PendingProposals(r.Context(), a.DB, c.p, r.PathValue("id"))
	return a.send(w, http.StatusOK, proposalList{Proposals: nonNil(ps)}, err)
}

// proposalAnswered is the body of a proposal's accept or decline: the
// proposal, and for an accepted one the invitation now mailed.
type proposalAnswered struct {
	Proposal   *auth.Proposal `json:"proposal"`
	Invitation *invitation    `json:"invitation,omitempty"`
}

func (a *API) acceptProposal(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.answerProposal(w, r, c, true)
}

func (a *API) declineProposal(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.answerProposal(w, r, c, false)
}

func (a *API) answerProposal(w http.ResponseWriter, r *http.Request, c *call, accept bool) error {
	ctx := r.Context()
	orgID, id := r.PathValue("id"), r.PathValue("proposal")
	if _, err := auth.PendingProposals(ctx, a.DB, c.p, orgID); err != nil {
		return err
	}
	if _, err := readOptionalJSON[struct{}](r); err != nil {
		return err
	}
	pr, res, err := a.Orgs.AnswerProposal(ctx, c.p, orgID, id, accept)
	if err != nil {
		return err
	}
	out := proposalAnswered{Proposal: pr}
	if res != nil && res.Link != nil {
		out.Invitation = invitationOf(res)
	}
	a.reply(w, http.StatusOK, out)
	return nil
}
