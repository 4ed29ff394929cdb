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
	CanEdit      bool
	KindEditable bool
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
	v := orgView{Org: o, CanEdit: p.CanManageMembers(p.OrgID)}
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

// orgChanges lists the attributes that differ between two versions of an
// organisation, for the audit entry.
func orgChanges(before, after *auth.Org) map[string]any {
	b, a := orgFormValues(before), orgFormValues(after)
	out := map[string]any{}
	for k := range a {
		if a.Get(k) != b.Get(k) {
			out[k] = map[string]string{"from": b.Get(k), "to": a.Get(k)}
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out[k] = map[string]string{"from": b.Get(k), "to": ""}
		}
	}
	return out
}

func (s *Server) orgUpdate(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	p := state(r).p
	in, err := parseOrgForm(r.PostForm)
	if err == nil {
		err = s.DB.InTx(r.Context(), func(tx *db.Tx) error {
			before, after, err := auth.UpdateOrg(r.Context(), tx, p, p.OrgID, in, s.Now())
			if err != nil {
				return err
			}
			return s.auditEvent(r, tx, audit.Entry{Action: audit.ActionOrgUpdate, ObjectType: "organization", ObjectID: p.OrgID,
				Details: orgChanges(before, after)})
		})
	}
	if err != nil {
		s.renderOrg(w, r, err, r.PostForm)
		return
	}
	s.flash(w, r, "/org", "flash.org_saved")
}

func (s *Server) orgInvite(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	p := state(r).p
	if err := s.invite(r, p.OrgID, p.OrgName, r.PostForm); err != nil {
		s.renderOrg(w, r, err, r.PostForm)
		return
	}
	s.flash(w, r, "/org#invite", "flash.invite_sent")
}

func (s *Server) memberRole(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	p := state(r).p
	userID := r.PathValue("user")
	role := auth.Role(r.PostForm.Get("role"))
	err := s.DB.InTx(r.Context(), func(tx *db.Tx) error {
		before, err := auth.GetMember(r.Context(), tx, p, p.OrgID, userID)
		if err != nil {
			return err
		}
		m, err := auth.ChangeRole(r.Context(), tx, p, p.OrgID, userID, role)
		if err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: audit.ActionMemberRole, ObjectType: "user", ObjectID: userID,
			Details: map[string]any{"email": m.Email, "from": string(before.Role), "to": string(m.Role)}})
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
		m, err := auth.RemoveMember(r.Context(), tx, p, p.OrgID, userID)
		if err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: audit.ActionMemberRemove, ObjectType: "user", ObjectID: userID,
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
