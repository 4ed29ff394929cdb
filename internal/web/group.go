package web

import (
	"net/http"
	"net/url"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// Audit actions of hospital groups.
const (
	actionGroupCreate  = "group.create"
	actionGroupDelete  = "group.delete"
	actionGroupInvite  = "group.invite"
	actionGroupAccept  = "group.accept"
	actionGroupDecline = "group.decline"
	actionGroupLeave   = "group.leave"
	actionGroupRemove  = "group.remove"
)

func (s *Server) groupRoutes(mux *http.ServeMux) {
	mux.Handle("GET /org/groups", s.requireUser(s.groupsPage))
	mux.Handle("POST /org/groups", s.requireUser(s.groupCreate))
	mux.Handle("GET /org/groups/{id}", s.requireUser(s.groupPage))
	mux.Handle("POST /org/groups/{id}/delete", s.requireUser(s.groupDelete))
	mux.Handle("POST /org/groups/{id}/invites", s.requireUser(s.groupInvite))
	mux.Handle("POST /org/groups/{id}/members/{org}/delete", s.requireUser(s.groupRemove))
	mux.Handle("POST /org/groups/{id}/accept", s.requireUser(s.groupAnswer(true)))
	mux.Handle("POST /org/groups/{id}/decline", s.requireUser(s.groupAnswer(false)))
	mux.Handle("POST /org/groups/{id}/leave", s.requireUser(s.groupLeave))
}

// groupMay reports whether the permission table lets p do action to its
// own organisation's groups, for showing the buttons.
func groupMay(p *auth.Principal, action string) bool {
	return auth.Allowed(p, action, auth.Target{OrgID: p.OrgID})
}

type groupsView struct {
	Owned     []*auth.Group
	Joined    []auth.GroupMembership
	CanCreate bool
	CanAnswer bool
}

func (s *Server) groupsPage(w http.ResponseWriter, r *http.Request) {
	s.renderGroups(w, r, nil, nil)
}

func (s *Server) renderGroups(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) {
	ctx := r.Context()
	p := state(r).p
	v := groupsView{CanCreate: groupMay(p, actionGroupCreate), CanAnswer: groupMay(p, actionGroupAccept)}
	var err error
	if v.Owned, err = auth.OwnedGroups(ctx, s.DB, p); err != nil {
		s.renderError(w, r, err)
		return
	}
	if v.Joined, err = auth.GroupsOf(ctx, s.DB, p); err != nil {
		s.renderError(w, r, err)
		return
	}
	pg := s.newPage(w, r, "group.web.title")
	pg.Data = v
	pg.Form = submitted
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "group_list", pg)
}

func (s *Server) groupCreate(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	ctx := r.Context()
	p := state(r).p
	var g *auth.Group
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if g, err = auth.CreateGroup(ctx, tx, p, r.PostForm.Get("name"), s.Now()); err != nil {
			return err
		}
		return s.auditEvent(r, tx, audit.Entry{Action: actionGroupCreate, ObjectType: "group", ObjectID: g.ID, Details: map[string]any{"name": g.Name}})
	})
	if err != nil {
		if apperr.From(err).Code == apperr.Forbidden {
			s.renderError(w, r, err)
			return
		}
		s.renderGroups(w, r, err, r.PostForm)
		return
	}
	s.flash(w, r, "/org/groups/"+g.ID, "flash.group_created")
}

type groupView struct {
	Group     *auth.Group
	CanManage bool
	Active    int
}

func (s *Server) groupPage(w http.ResponseWriter, r *http.Request) {
	s.renderGroup(w, r, nil, nil)
}

func (s *Server) renderGroup(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) {
	p := state(r).p
	g, err := auth.GetGroup(r.Context(), s.DB, p, r.PathValue("id"))
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	v := groupView{Group: g, CanManage: groupMay(p, actionGroupInvite)}
	for _, m := range g.Members {
		if m.Status == auth.GroupActive {
			v.Active++
		}
	}
	pg := s.newPage(w, r, "group.web.group_title")
	pg.Title = g.Name
	pg.Data = v
	pg.Form = submitted
	status := http.StatusOK
	if prevErr != nil {
		pg.Error = apperr.From(prevErr)
		status = formStatus(prevErr)
	}
	s.render(w, r, status, "group_detail", pg)
}

func (s *Server) groupInvite(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	ctx := r.Context()
	p := state(r).p
	id := r.PathValue("id")
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		m, err := auth.InviteToGroup(ctx, tx, p, id, r.PostForm.Get("ref"), s.Now())
		if err != nil {
			return err
		}
		g, err := auth.GetGroup(ctx, tx, p, id)
		if err != nil {
			return err
		}
		return s.groupAudit(r, tx, actionGroupInvite, m.OrgID, g.ID, map[string]any{"group_name": g.Name, "org": m.OrgID, "invited_as": m.InvitedAs, "status": string(m.Status)})
	})
	if err != nil {
		s.groupError(w, r, err)
		return
	}
	s.flash(w, r, "/org/groups/"+id, "flash.group_invited")
}

// groupAudit writes the entry in the acting organisation's log and a copy
// in the other organisation's, so both sides see the change.
func (s *Server) groupAudit(r *http.Request, tx *db.Tx, action, otherOrg, groupID string, details map[string]any) error {
	e := audit.Entry{Action: action, ObjectType: "group", ObjectID: groupID, Details: details}
	if err := s.auditEvent(r, tx, e); err != nil {
		return err
	}
	if otherOrg == "" || otherOrg == state(r).p.OrgID {
		return nil
	}
	e.OrgID = otherOrg
	return s.auditEvent(r, tx, e)
}

// groupError shows a refused owner change: another organisation's (or a
// missing) group as a 404 page, a refusal as an error page, anything else
// on the group page.
func (s *Server) groupError(w http.ResponseWriter, r *http.Request, err error) {
	if c := apperr.From(err).Code; c == apperr.NotFound || c == apperr.Forbidden {
		s.renderError(w, r, err)
		return
	}
	s.renderGroup(w, r, err, r.PostForm)
}

func (s *Server) groupRemove(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	ctx := r.Context()
	p := state(r).p
	id := r.PathValue("id")
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		g, err := auth.GetGroup(ctx, tx, p, id)
		if err != nil {
			return err
		}
		m, err := auth.RemoveGroupMember(ctx, tx, p, id, r.PathValue("org"))
		if err != nil {
			return err
		}
		return s.groupAudit(r, tx, actionGroupRemove, m.OrgID, g.ID, map[string]any{"group_name": g.Name, "org": m.OrgID, "status": string(m.Status)})
	})
	if err != nil {
		s.groupError(w, r, err)
		return
	}
	s.flash(w, r, "/org/groups/"+id, "flash.group_removed")
}

func (s *Server) groupDelete(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	ctx := r.Context()
	p := state(r).p
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		g, err := auth.DeleteGroup(ctx, tx, p, r.PathValue("id"))
		if err != nil {
			return err
		}
		details := map[string]any{"name": g.Name, "members": len(g.Members)}
		if err := s.auditEvent(r, tx, audit.Entry{Action: actionGroupDelete, ObjectType: "group", ObjectID: g.ID, Details: details}); err != nil {
			return err
		}
		for _, m := range g.Members {
			if m.OrgID == p.OrgID {
				continue
			}
			if err := s.auditEvent(r, tx, audit.Entry{OrgID: m.OrgID, Action: actionGroupDelete, ObjectType: "group", ObjectID: g.ID,
				Details: map[string]any{"name": g.Name}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.groupError(w, r, err)
		return
	}
	s.flash(w, r, "/org/groups", "flash.group_deleted")
}

func (s *Server) groupAnswer(accept bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.refuseReadOnly(w, r) {
			return
		}
		ctx := r.Context()
		p := state(r).p
		id := r.PathValue("id")
		action, flash := actionGroupDecline, "flash.group_declined"
		if accept {
			action, flash = actionGroupAccept, "flash.group_accepted"
		}
		err := s.DB.InTx(ctx, func(tx *db.Tx) error {
			m, err := auth.AnswerGroupInvite(ctx, tx, p, id, accept, s.Now())
			if err != nil {
				return err
			}
			return s.groupAudit(r, tx, action, m.OwnerOrgID, id, map[string]any{"group_name": m.GroupName, "owner": m.OwnerName, "org": p.OrgID})
		})
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		s.flash(w, r, "/org/groups", flash)
	}
}

func (s *Server) groupLeave(w http.ResponseWriter, r *http.Request) {
	if s.refuseReadOnly(w, r) {
		return
	}
	ctx := r.Context()
	p := state(r).p
	id := r.PathValue("id")
	err := s.DB.InTx(ctx, func(tx *db.Tx) error {
		m, err := auth.LeaveGroup(ctx, tx, p, id)
		if err != nil {
			return err
		}
		return s.groupAudit(r, tx, actionGroupLeave, m.OwnerOrgID, id, map[string]any{"group_name": m.GroupName, "owner": m.OwnerName, "org": p.OrgID})
	})
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.flash(w, r, "/org/groups", "flash.group_left")
}
