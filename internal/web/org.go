package web

import (
	"net/http"
	"net/url"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
)

type orgView struct {
	Org          *auth.Org
	Members      []auth.Membership
	Invites      []auth.EmailLink
	Proposals    []*auth.Proposal
	CanEdit      bool
	KindEditable bool
	MFAEditable  bool
}

func (s *Server) renderOrg(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	ctx := r.Context()
	p := state(r).p
	o, err := auth.GetOrg(ctx, s.DB, p, p.OrgID)
	if err != nil {
		return err
	}
	own := auth.Target{OrgID: p.OrgID}
	v := orgView{Org: o, CanEdit: auth.Allowed(p, "org.invite", own), MFAEditable: auth.Allowed(p, "org.update.mfa_policy", own)}
	if v.Members, err = auth.ListMembers(ctx, s.DB, p, p.OrgID); err != nil {
		return err
	}
	if p.IsAdmin() || p.Role == auth.RoleAuditor {
		if v.Invites, err = auth.PendingInvites(ctx, s.DB, p, p.OrgID, s.Now()); err != nil {
			return err
		}
	}
	if auth.Allowed(p, "org.proposal.read", own) {
		if v.Proposals, err = auth.PendingProposals(ctx, s.DB, p, p.OrgID); err != nil {
			return err
		}
	}
	base := orgFormValues(o)
	base.Set("role", string(auth.RoleStaff))
	pg := s.newPage(w, r, "org.title")
	pg.Form = withForm(base, submitted)
	pg.Data = v
	return s.renderForm(w, r, "org", pg, prevErr)
}

// updateOrg changes organisation id from the form, as the permission table
// allows p (the service records the entry and mails what it must).
func (s *Server) updateOrg(r *http.Request, p *auth.Principal, id string, in auth.OrgInput) error {
	_, _, err := s.Orgs.UpdateOrg(r.Context(), p, id, func(x *auth.OrgInput) { *x = in })
	return err
}

func (s *Server) orgUpdate(w http.ResponseWriter, r *http.Request, m *member) error {
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	in, err := parseOrgForm(r.PostForm)
	if err == nil {
		err = s.updateOrg(r, m.P, m.P.OrgID, in)
	}
	if err != nil {
		return s.renderOrg(w, r, err, r.PostForm)
	}
	s.flash(w, r, "/org", "flash.org_saved")
	return nil
}

// inviteInput reads an invitation form.
func inviteInput(f url.Values, role auth.Role) auth.InviteInput {
	if role == "" {
		role = auth.Role(f.Get("role"))
	}
	return auth.InviteInput{Email: f.Get("email"), Role: role, Lang: f.Get("lang")}
}

func (s *Server) orgInvite(w http.ResponseWriter, r *http.Request, m *member) error {
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	if _, err := s.Orgs.Invite(r.Context(), m.P, m.P.OrgID, inviteInput(r.PostForm, "")); err != nil {
		return s.renderOrg(w, r, err, r.PostForm)
	}
	s.flash(w, r, "/org#invite", "flash.invite_sent")
	return nil
}

// orgInviteRevoke cancels the organisation's pending invitations to the
// form's email.
func (s *Server) orgInviteRevoke(w http.ResponseWriter, r *http.Request, m *member) error {
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	if err := s.Orgs.RevokeInvite(r.Context(), m.P, m.P.OrgID, r.PostForm.Get("email")); err != nil {
		return s.memberError(w, r, err)
	}
	s.flash(w, r, "/org#pending-h", "flash.invite_revoked")
	return nil
}

// orgProposalAnswer accepts or declines an ISAC operator's proposal to add
// someone to the organisation; accepting mails the invitation.
func (s *Server) orgProposalAnswer(accept bool) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, m *member) error {
		if !m.P.CanWrite() {
			return apperr.New(apperr.Forbidden, "error_page.read_only")
		}
		if _, _, err := s.Orgs.AnswerProposal(r.Context(), m.P, m.P.OrgID, r.PathValue("id"), accept); err != nil {
			return s.memberError(w, r, err)
		}
		flash := "flash.proposal_declined"
		if accept {
			flash = "flash.proposal_accepted"
		}
		s.flash(w, r, "/org#proposals", flash)
		return nil
	}
}

func (s *Server) memberRole(w http.ResponseWriter, r *http.Request, m *member) error {
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	if _, err := s.Orgs.ChangeRole(r.Context(), m.P, m.P.OrgID, r.PathValue("user"), auth.Role(r.PostForm.Get("role"))); err != nil {
		return s.memberError(w, r, err)
	}
	s.flash(w, r, "/org", "flash.role_changed")
	return nil
}

// memberError shows a refused member change: a missing member (also one of
// another organisation) as a 404 page, anything else on the organisation
// page.
func (s *Server) memberError(w http.ResponseWriter, r *http.Request, err error) error {
	if isNotFound(err) {
		return err
	}
	return s.renderOrg(w, r, err, nil)
}

func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request, m *member) error {
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	userID := r.PathValue("user")
	if userID == m.P.UserID {
		return s.renderOrg(w, r, apperr.New(apperr.Conflict, "org.member.self"), nil)
	}
	if err := s.Orgs.RemoveMember(r.Context(), m.P, m.P.OrgID, userID); err != nil {
		return s.memberError(w, r, err)
	}
	s.flash(w, r, "/org", "flash.member_removed")
	return nil
}

// switchOrg moves the session to another organisation the person belongs
// to. An organisation they do not belong to looks like a missing one.
func (s *Server) switchOrg(w http.ResponseWriter, r *http.Request, mb *member) error {
	ctx := r.Context()
	p := mb.P
	target := r.PostForm.Get("org_id")
	ms, err := auth.MembershipsOf(ctx, s.DB, p.UserID)
	if err != nil {
		return err
	}
	var m *auth.Membership
	for i := range ms {
		if ms[i].OrgID == target {
			m = &ms[i]
		}
	}
	if m == nil {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	if s.mfaNeeded(ctx, *m) {
		has, err := s.MFA.HasSecondFactor(ctx, p.UserID)
		if err != nil {
			return err
		}
		if !has {
			return apperr.New(apperr.Forbidden, "org.switch_needs_mfa")
		}
	}
	return s.saved(w, r, "/", "flash.org_switched", s.Orgs.SwitchOrg(ctx, p, state(r).sess.IDHash, m.OrgID))
}
