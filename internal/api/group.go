package api

import (
	"net/http"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
)

const hgroupBase = "/api/v1/groups"

// groupRoutes are the hospital-group (病院グループ) routes: the owner's
// admins manage a group, the invited organisation's admins answer, and the
// owner's people read the group's assessments progress.
func (a *API) groupRoutes() []route {
	return []route{
		{"GET", hgroupBase, true, false, a.hgroupList},
		{"POST", hgroupBase, true, true, a.hgroupCreate},
		{"GET", hgroupBase + "/{group}", true, false, a.hgroupGet},
		{"DELETE", hgroupBase + "/{group}", true, true, a.hgroupDelete},
		{"POST", hgroupBase + "/{group}/invitations", true, true, a.hgroupInvite},
		{"DELETE", hgroupBase + "/{group}/members/{org}", true, true, a.hgroupRemove},
		{"POST", hgroupBase + "/{group}/membership", true, true, a.hgroupAnswer},
		{"DELETE", hgroupBase + "/{group}/membership", true, true, a.hgroupLeave},
		{"GET", hgroupBase + "/{group}/assess/overview", true, false, a.hgroupOverview},
	}
}

// hgroupListBody is the body of GET /api/v1/groups.
// A page holds the groups owned first, then the memberships.
type hgroupListBody struct {
	Owned       []*auth.Group          `json:"owned"`
	Memberships []auth.GroupMembership `json:"memberships"`
	NextCursor  string                 `json:"next_cursor,omitempty"`
}

func (a *API) hgroupList(w http.ResponseWriter, r *http.Request, c *call) error {
	pg, err := pageOf(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	owned, joined, next, err := auth.PagePair(pg, func(p auth.Page) ([]*auth.Group, string, error) {
		return auth.PageOwnedGroups(ctx, a.DB, c.p, p)
	}, func(p auth.Page) ([]auth.GroupMembership, string, error) {
		return auth.PageGroupsOf(ctx, a.DB, c.p, p)
	})
	return a.send(w, http.StatusOK, hgroupListBody{Owned: nonNil(owned), Memberships: nonNil(joined), NextCursor: next}, err)
}

// nameInput is a body that names what it creates.
type nameInput struct {
	Name string `json:"name"`
}

func (a *API) hgroupCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	in, err := readJSON[nameInput](r)
	if err != nil {
		return err
	}
	g, err := a.Orgs.CreateGroup(r.Context(), c.p, in.Name)
	return a.send(w, http.StatusCreated, g, err)
}

func (a *API) hgroupGet(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := auth.GetGroup(r.Context(), a.DB, c.p, r.PathValue("group"))
	if err != nil {
		return err
	}
	g.Members = nonNil(g.Members)
	a.reply(w, http.StatusOK, g)
	return nil
}

func (a *API) hgroupDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	_, err := a.Orgs.DeleteGroup(r.Context(), c.p, r.PathValue("group"))
	return noContent(w, err)
}

// hgroupInviteBody is the body of POST /api/v1/groups/{group}/invitations:
// the organisation invited, by id or member number.
type hgroupInviteBody struct {
	Ref string `json:"ref"`
}

func (a *API) hgroupInvite(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	id := r.PathValue("group")
	if _, err := auth.GetGroup(ctx, a.DB, c.p, id); err != nil {
		return err
	}
	in, err := readJSON[hgroupInviteBody](r)
	if err != nil {
		return err
	}
	if err := checkText("ref", in.Ref); err != nil {
		return err
	}
	m, err := a.Orgs.InviteToGroup(ctx, c.p, id, in.Ref)
	return a.send(w, http.StatusCreated, m, err)
}

func (a *API) hgroupRemove(w http.ResponseWriter, r *http.Request, c *call) error {
	_, err := a.Orgs.RemoveGroupMember(r.Context(), c.p, r.PathValue("group"), r.PathValue("org"))
	return noContent(w, err)
}

// hgroupAnswerBody is the body of POST /api/v1/groups/{group}/membership.
type hgroupAnswerBody struct {
	Accept *bool `json:"accept"`
}

func (a *API) hgroupAnswer(w http.ResponseWriter, r *http.Request, c *call) error {
	in, err := readJSON[hgroupAnswerBody](r)
	if err != nil {
		return err
	}
	if in.Accept == nil {
		return apperr.Field("accept", "group.api.accept_required")
	}
	m, err := a.Orgs.AnswerGroupInvite(r.Context(), c.p, r.PathValue("group"), *in.Accept)
	return a.send(w, http.StatusOK, m, err)
}

func (a *API) hgroupLeave(w http.ResponseWriter, r *http.Request, c *call) error {
	_, err := a.Orgs.LeaveGroup(r.Context(), c.p, r.PathValue("group"))
	return noContent(w, err)
}

// hgroupOverviewBody is the body of GET /api/v1/groups/{group}/assess/overview.
type hgroupOverviewBody struct {
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name"`
	*assess.Overview
}

func (a *API) hgroupOverview(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	g, err := auth.GetGroup(ctx, a.DB, c.p, r.PathValue("group"))
	if err != nil {
		return err
	}
	family, fy, err := a.overviewQuery(r, "group.api.year_invalid", "group.api.family_invalid")
	if err != nil {
		return err
	}
	ov, err := assess.GroupProgressOverview(ctx, a.DB, a.assessRegistry(), c.p.OrgID, g.ID, family, fy)
	if err != nil {
		return err
	}
	ov.Shared = nonNil(ov.Shared)
	a.reply(w, http.StatusOK, hgroupOverviewBody{GroupID: g.ID, GroupName: g.Name, Overview: ov})
	return nil
}
