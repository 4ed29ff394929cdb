package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
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
type hgroupListBody struct {
	Owned       []*auth.Group          `json:"owned"`
	Memberships []auth.GroupMembership `json:"memberships"`
}

func (a *API) hgroupList(w http.ResponseWriter, r *http.Request, c *call) error {
	owned, err := auth.OwnedGroups(r.Context(), a.DB, c.p)
	if err != nil {
		return err
	}
	joined, err := auth.GroupsOf(r.Context(), a.DB, c.p)
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, hgroupListBody{Owned: nonNil(owned), Memberships: nonNil(joined)})
	return nil
}

func (a *API) hgroupCreate(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	var g *auth.Group
	err = a.DB.InTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if g, err = auth.CreateGroup(r.Context(), tx, c.p, in.Name, a.Now()); err != nil {
			return err
		}
		return a.record(r.Context(), tx, c, c.p.OrgID, "group.create", "group", g.ID, map[string]any{"name": g.Name})
	})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusCreated, g)
	return nil
}

func (a *API) hgroupGet(w http.ResponseWriter, r *http.Request, c *call) error {
	g, err := auth.GetGroup(r.Context(), a.DB, c.p, r.PathValue("group"))
	if err != nil {
		return err
	}
	if g.Members == nil {
		g.Members = []auth.GroupMember{}
	}
	a.reply(w, http.StatusOK, g)
	return nil
}

func (a *API) hgroupDelete(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	err := a.DB.InTx(ctx, func(tx *db.Tx) error {
		g, err := auth.DeleteGroup(ctx, tx, c.p, r.PathValue("group"))
		if err != nil {
			return err
		}
		if err := a.record(ctx, tx, c, c.p.OrgID, "group.delete", "group", g.ID, map[string]any{"name": g.Name, "members": len(g.Members)}); err != nil {
			return err
		}
		for _, m := range g.Members {
			if m.OrgID == c.p.OrgID {
				continue
			}
			if err := a.recordOnly(ctx, tx, c, m.OrgID, "group.delete", g.ID, map[string]any{"name": g.Name}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// recordOnly appends an entry in organisation orgID's log alone; the
// actor's own copy is written separately.
func (a *API) recordOnly(ctx context.Context, tx *db.Tx, c *call, orgID, action, groupID string, details map[string]any) error {
	_, err := a.Audit.Append(ctx, tx, audit.Entry{ActorID: c.p.UserID, Actor: c.p.Email, OrgID: orgID, Action: action, ObjectType: "group",
		ObjectID: groupID, Outcome: audit.Success, IP: c.ip, UserAgent: c.ua, Details: details})
	return err
}

func (a *API) hgroupInvite(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	id := r.PathValue("group")
	if _, err := auth.GetGroup(ctx, a.DB, c.p, id); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Ref string `json:"ref"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if err := checkText("ref", in.Ref); err != nil {
		return err
	}
	var m *auth.GroupMember
	err = a.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if m, err = auth.InviteToGroup(ctx, tx, c.p, id, in.Ref, a.Now()); err != nil {
			return err
		}
		g, err := auth.GetGroup(ctx, tx, c.p, id)
		if err != nil {
			return err
		}
		return a.record(ctx, tx, c, m.OrgID, "group.invite", "group", id,
			map[string]any{"group_name": g.Name, "org": m.OrgID, "invited_as": m.InvitedAs, "status": string(m.Status)})
	})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusCreated, m)
	return nil
}

func (a *API) hgroupRemove(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	id := r.PathValue("group")
	err := a.DB.InTx(ctx, func(tx *db.Tx) error {
		g, err := auth.GetGroup(ctx, tx, c.p, id)
		if err != nil {
			return err
		}
		m, err := auth.RemoveGroupMember(ctx, tx, c.p, id, r.PathValue("org"))
		if err != nil {
			return err
		}
		return a.record(ctx, tx, c, m.OrgID, "group.remove", "group", id, map[string]any{"group_name": g.Name, "org": m.OrgID, "status": string(m.Status)})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// hgroupAnswerBody is the body of POST /api/v1/groups/{group}/membership.
type hgroupAnswerBody struct {
	Accept *bool `json:"accept"`
}

func (a *API) hgroupAnswer(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in hgroupAnswerBody
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	if in.Accept == nil {
		return apperr.Field("accept", "group.api.accept_required")
	}
	ctx := r.Context()
	action := "group.decline"
	if *in.Accept {
		action = "group.accept"
	}
	var m *auth.GroupMembership
	err = a.DB.InTx(ctx, func(tx *db.Tx) error {
		var err error
		if m, err = auth.AnswerGroupInvite(ctx, tx, c.p, r.PathValue("group"), *in.Accept, a.Now()); err != nil {
			return err
		}
		return a.record(ctx, tx, c, m.OwnerOrgID, action, "group", m.GroupID, map[string]any{"group_name": m.GroupName, "owner": m.OwnerName, "org": c.p.OrgID})
	})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, m)
	return nil
}

func (a *API) hgroupLeave(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	err := a.DB.InTx(ctx, func(tx *db.Tx) error {
		m, err := auth.LeaveGroup(ctx, tx, c.p, r.PathValue("group"))
		if err != nil {
			return err
		}
		return a.record(ctx, tx, c, m.OwnerOrgID, "group.leave", "group", m.GroupID, map[string]any{"group_name": m.GroupName, "owner": m.OwnerName, "org": c.p.OrgID})
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// hgroupOverviewBody is the body of GET /api/v1/groups/{group}/assess/overview.
type hgroupOverviewBody struct {
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name"`
	*assess.Overview
}

var hgroupFamilies = []string{"mhlw-institution", "mhlw-pharmacy", "mhlw-urgent"}

func (a *API) hgroupOverview(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	g, err := auth.GetGroup(ctx, a.DB, c.p, r.PathValue("group"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	fy := assess.FiscalYearOf(a.Now())
	if y := q.Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n <= 2000 || n >= 2100 {
			return apperr.Field("year", "group.api.year_invalid")
		}
		fy = n
	}
	family := hgroupFamilies[0]
	if f := q.Get("family"); f != "" {
		family = ""
		for _, x := range hgroupFamilies {
			if x == f {
				family = x
			}
		}
		if family == "" {
			return apperr.Field("family", "group.api.family_invalid")
		}
	}
	ov, err := assess.GroupProgressOverview(ctx, a.DB, a.assessRegistry(), c.p.OrgID, g.ID, family, fy)
	if err != nil {
		return err
	}
	if ov.Shared == nil {
		ov.Shared = []assess.OverviewRow{}
	}
	a.reply(w, http.StatusOK, hgroupOverviewBody{GroupID: g.ID, GroupName: g.Name, Overview: ov})
	return nil
}
