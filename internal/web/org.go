package web

import (
	"net/http"
	"net/url"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
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

func (s *Server) orgPage(w http.ResponseWriter, r *http.Request) {
	s.renderOrg(w, r, nil, nil)
}

func (s *Server) renderOrg(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) {
	ctx := r.Context()
	p := state(r).p
	o, err := auth.GetOrg(ctx, s.DB, p, p.OrgID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	own := auth.Target{OrgID: p.OrgID}
	v := orgView{Org: o, CanEdit: auth.Allowed(p, "org.invite", own), MFAEditable: auth.Allowed(p, "org.update.mfa_policy", own)}
	if v.Members, err = auth.ListMembers(ctx, s.DB, p, p.OrgID); err != nil {
		s.renderError(w, r, err)
		return
	}
	if p.IsAdmin() || p.Role == auth.RoleAuditor {
		if v.Invites, err = auth.PendingInvites(ctx, s.DB, p, p.OrgID, s.Now()); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	if auth.Allowed(p, "org.proposal.read", own) {
		if v.Proposals, err = auth.PendingProposals(ctx, s.DB, p, p.OrgID); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	base := orgFormValues(o)
	base.Set("role", string(auth.RoleStaff))
	pg := s.newPage(w, r, "org.title")
	pg.Form = withForm(base, submitted)
	pg.Data = v
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "org", pg)
}

// updateOrg changes organisation id from the form, as the permission table
// allows p (auth.UpdateOrg), and records one audit entry in that
// organisation's log, the same as the API's.
func (s *Server) updateOrg(r *http.Request, id string, in auth.OrgInput) error {
	return s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		before, after, err := auth.UpdateOrg(r.Context(), tx, s.notices(), state(r).p, id, in, s.Now())
		if err != nil {
			return err
		}
		ch := auth.OrgChanges(before, after)
		if len(ch) == 0 {
			return nil
		}
		return s.auditEvent(r, tx, audit.Entry{Action: auth.OrgUpdateAction(before, after), OrgID: id, ObjectType: "org", ObjectID: id, Details: ch})
	})
}

func (s *Server) orgUpdate(w http.ResponseWriter, r *http.Request, m *member) error {
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	in, err := parseOrgForm(r.PostForm)
	if err == nil {
		err = s.updateOrg(r, m.P.OrgID, in)
	}
	if err != nil {
		s.renderOrg(w, r, err, r.PostForm)
		return nil
	}
	s.flash(w, r, "/org", "flash.org_saved")
	return nil
}

func (s *Server) orgInvite(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	p := state(r).p
	if _, err := s.invite(r, p.OrgID, r.PostForm); err != nil {
		s.renderOrg(w, r, err, r.PostForm)
		return
	}
	s.flash(w, r, "/org#invite", "flash.invite_sent")
}

// orgInviteRevoke cancels the organisation's pending invitations to the
// form's email.
func (s *Server) orgInviteRevoke(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	p := state(r).p
	email := r.PostForm.Get("email")
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		if err := auth.RevokeInvite(r.Context(), tx, s.notices(), p, p.OrgID, email, s.Now()); err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: audit.ActionInviteRevoke, OrgID: p.OrgID, ObjectType: "invitation", ObjectID: email,
			Details: map[string]any{"email": email}})
	})
	if err != nil {
		s.memberError(w, r, err)
		return
	}
	s.flash(w, r, "/org#pending-h", "flash.invite_revoked")
}

// orgProposalAnswer accepts or declines an ISAC operator's proposal to add
// someone to the organisation; accepting mails the invitation.
func (s *Server) orgProposalAnswer(accept bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.refuseReadOnly(w, r) {
			return
		}
		p := state(r).p
		err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
			pr, inv, err := auth.AnswerProposal(r.Context(), tx, s.notices(), p, p.OrgID, r.PathValue("id"), accept, s.Now())
			if err != nil {
				return err
			}
			action := audit.ActionProposalDecline
			if accept {
				action = audit.ActionProposalAccept
				if s.Mailer == nil {
					return apperr.New(apperr.Unavailable, "outbox.unavailable")
				}
				if err := s.mailInvitation(r, tx, p.OrgID, inv); err != nil {
					return err
				}
			}
			return s.auditEvent(r, tx, audit.Entry{Action: action, OrgID: p.OrgID, ObjectType: "proposal", ObjectID: pr.ID,
				Details: map[string]any{"email": pr.Email, "role": string(pr.Role), "proposer_org_id": pr.ProposerOrgID}})
		})
		if err != nil {
			s.memberError(w, r, err)
			return
		}
		flash := "flash.proposal_declined"
		if accept {
			flash = "flash.proposal_accepted"
		}
		s.flash(w, r, "/org#proposals", flash)
	}
}

func (s *Server) memberRole(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	p := state(r).p
	userID := r.PathValue("user")
	role := auth.Role(r.PostForm.Get("role"))
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		m, from, err := auth.ChangeRole(r.Context(), tx, s.notices(), p, p.OrgID, userID, role)
		if err != nil || from == m.Role {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: audit.ActionMemberRole, OrgID: p.OrgID, ObjectType: "user", ObjectID: userID,
			Details: map[string]any{"email": m.Email, "from": string(from), "to": string(m.Role)}})
	})
	if err != nil {
		s.memberError(w, r, err)
		return
	}
	s.flash(w, r, "/org", "flash.role_changed")
}

// memberError shows a refused member change: a missing member (also one of
// another organisation) as a 404 page, anything else on the organisation
// page.
func (s *Server) memberError(w http.ResponseWriter, r *http.Request, err error) {
	if isNotFound(err) {
		s.renderError(w, r, err)
		return
	}
	s.renderOrg(w, r, err, nil)
}

func (s *Server) memberRemove(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	p := state(r).p
	userID := r.PathValue("user")
	if userID == p.UserID {
		s.renderOrg(w, r, apperr.New(apperr.Conflict, "org.member.self"), nil)
		return
	}
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		m, err := auth.RemoveMember(r.Context(), tx, s.notices(), p, p.OrgID, userID)
		if err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: audit.ActionMemberRemove, OrgID: p.OrgID, ObjectType: "user", ObjectID: userID,
			Details: map[string]any{"email": m.Email, "role": string(m.Role)}})
	})
	if err != nil {
		s.memberError(w, r, err)
		return
	}
	s.flash(w, r, "/org", "flash.member_removed")
}

// switchOrg moves the session to another organisation the person belongs
// to. An organisation they do not belong to looks like a missing one.
func (s *Server) switchOrg(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st := state(r)
	p := st.p
	target := r.PostForm.Get("org_id")
	ms, err := auth.MembershipsOf(ctx, s.DB, p.UserID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	var m *auth.Membership
	for i := range ms {
		if ms[i].OrgID == target {
			m = &ms[i]
		}
	}
	if m == nil {
		s.renderError(w, r, apperr.New(apperr.NotFound, "error.not_found"))
		return
	}
	if s.mfaNeeded(ctx, *m) {
		has, err := s.MFA.HasSecondFactor(ctx, p.UserID)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if !has {
			s.renderError(w, r, apperr.New(apperr.Forbidden, "org.switch_needs_mfa"))
			return
		}
	}
	err = s.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := auth.SwitchSessionOrg(ctx, tx, st.sess.IDHash, m.OrgID); err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: "auth.org.switch", OrgID: m.OrgID, ObjectType: "organization", ObjectID: m.OrgID,
			Details: map[string]any{"from": p.OrgID}})
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.flash(w, r, "/", "flash.org_switched")
}
