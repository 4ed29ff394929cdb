package web

import (
	"net/http"
	"net/url"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
)

// The permission rules the group pages ask about for their buttons.
const (
	actionGroupCreate = "group.create"
	actionGroupInvite = "group.invite"
	actionGroupAccept = "group.accept"
)

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

func (s *Server) renderGroups(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	ctx := r.Context()
	p := state(r).p
	v := groupsView{CanCreate: groupMay(p, actionGroupCreate), CanAnswer: groupMay(p, actionGroupAccept)}
	var err error
	if v.Owned, err = auth.OwnedGroups(ctx, s.DB, p); err != nil {
		return err
	}
	if v.Joined, err = auth.GroupsOf(ctx, s.DB, p); err != nil {
		return err
	}
	pg := s.newPage(w, r, "group.web.title")
	pg.Data = v
	pg.Form = submitted
	return s.renderForm(w, r, "group_list", pg, prevErr)
}

func (s *Server) groupCreate(w http.ResponseWriter, r *http.Request, m *member) error {
	if s.refuseReadOnly(w, r) {
		return nil
	}
	g, err := s.Orgs.CreateGroup(r.Context(), m.P, r.PostForm.Get("name"))
	if err != nil {
		if apperr.From(err).Code == apperr.Forbidden {
			return err
		}
		return s.renderGroups(w, r, err, r.PostForm)
	}
	s.flash(w, r, "/org/groups/"+g.ID, "flash.group_created")
	return nil
}

type groupView struct {
	Group     *auth.Group
	CanManage bool
	Active    int
}

func (s *Server) renderGroup(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	p := state(r).p
	g, err := auth.GetGroup(r.Context(), s.DB, p, r.PathValue("id"))
	if err != nil {
		return err
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
	return s.renderForm(w, r, "group_detail", pg, prevErr)
}

func (s *Server) groupInvite(w http.ResponseWriter, r *http.Request, m *member) error {
	if s.refuseReadOnly(w, r) {
		return nil
	}
	id := r.PathValue("id")
	if _, err := s.Orgs.InviteToGroup(r.Context(), m.P, id, r.PostForm.Get("ref")); err != nil {
		return s.groupError(w, r, err)
	}
	s.flash(w, r, "/org/groups/"+id, "flash.group_invited")
	return nil
}

// groupError shows a refused owner change: another organisation's (or a
// missing) group as a 404 page, a refusal as an error page (both returned
// to the adapter), anything else on the group page.
func (s *Server) groupError(w http.ResponseWriter, r *http.Request, err error) error {
	if c := apperr.From(err).Code; c == apperr.NotFound || c == apperr.Forbidden {
		return err
	}
	return s.renderGroup(w, r, err, r.PostForm)
}

func (s *Server) groupRemove(w http.ResponseWriter, r *http.Request, m *member) error {
	if s.refuseReadOnly(w, r) {
		return nil
	}
	id := r.PathValue("id")
	if _, err := s.Orgs.RemoveGroupMember(r.Context(), m.P, id, r.PathValue("org")); err != nil {
		return s.groupError(w, r, err)
	}
	s.flash(w, r, "/org/groups/"+id, "flash.group_removed")
	return nil
}

func (s *Server) groupDelete(w http.ResponseWriter, r *http.Request, m *member) error {
	if s.refuseReadOnly(w, r) {
		return nil
	}
	if _, err := s.Orgs.DeleteGroup(r.Context(), m.P, r.PathValue("id")); err != nil {
		return s.groupError(w, r, err)
	}
	s.flash(w, r, "/org/groups", "flash.group_deleted")
	return nil
}

func (s *Server) groupAnswer(accept bool) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, m *member) error {
		if s.refuseReadOnly(w, r) {
			return nil
		}
		flash := "flash.group_declined"
		if accept {
			flash = "flash.group_accepted"
		}
		if _, err := s.Orgs.AnswerGroupInvite(r.Context(), m.P, r.PathValue("id"), accept); err != nil {
			return err
		}
		s.flash(w, r, "/org/groups", flash)
		return nil
	}
}

func (s *Server) groupLeave(w http.ResponseWriter, r *http.Request, m *member) error {
	if s.refuseReadOnly(w, r) {
		return nil
	}
	if _, err := s.Orgs.LeaveGroup(r.Context(), m.P, r.PathValue("id")); err != nil {
		return err
	}
	s.flash(w, r, "/org/groups", "flash.group_left")
	return nil
}
