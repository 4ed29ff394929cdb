package api

import (
	"net/http"
	"time"

	"github.com/medisac/medisac/internal/auth"
)

// orgList is the body of GET /api/v1/orgs.
type orgList struct {
	Orgs       []*auth.Org `json:"orgs"`
	Limit      int         `json:"limit"`
	Offset     int         `json:"offset"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func (a *API) listOrgs(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := parseOrgFilter(r.URL.Query())
	if err != nil {
		return err
	}
	orgs, next, err := auth.PageOrgs(r.Context(), a.DB, c.p, f)
	return a.send(w, http.StatusOK, orgList{Orgs: nonNil(orgs), Limit: f.Limit, Offset: f.Offset, NextCursor: next}, err)
}

func (a *API) getOrg(w http.ResponseWriter, r *http.Request, c *call) error {
	o, err := auth.GetOrg(r.Context(), a.DB, c.p, r.PathValue("id"))
	return a.send(w, http.StatusOK, o, err)
}

// invitation is an invitation as the API shows it (never its token).
type invitation struct {
	Email     string    `json:"email"`
	OrgID     string    `json:"org_id"`
	Role      auth.Role `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// orgCreated is the body of a successful POST /api/v1/orgs.
type orgCreated struct {
	Org        *auth.Org   `json:"org"`
	Invitation *invitation `json:"invitation"`
}

func (a *API) createOrg(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := auth.Authorize(c.p, "org.create", auth.Target{}); err != nil {
		return err
	}
	in, err := readDecoded(r, decodeOrgCreate)
	if err != nil {
		return err
	}
	var admin auth.InviteInput
	if in.AdminEmail != "" {
		admin = auth.InviteInput{Email: in.AdminEmail, Role: auth.RoleAdmin}
	}
	o, inv, err := a.Orgs.CreateOrg(r.Context(), c.p, in.OrgInput, admin)
	if err != nil {
		return err
	}
	out := orgCreated{Org: o}
	if inv != nil && inv.Link != nil {
		out.Invitation = invitationOf(inv)
	}
	w.Header().Set("Location", "/api/v1/orgs/"+o.ID)
	a.reply(w, http.StatusCreated, out)
	return nil
}

// invitationOf is how the API shows an invitation just made.
func invitationOf(res *auth.Invitation) *invitation {
	l := res.Link
	return &invitation{Email: l.Email, OrgID: l.OrgID, Role: l.Role, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt}
}

func (a *API) updateOrg(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	ctx := r.Context()
	if _, err := auth.GetOrg(ctx, a.DB, c.p, id); err != nil {
		return err
	}
	patch, err := decodeOrgPatch(body)
	if err != nil {
		return err
	}
	_, after, err := a.Orgs.UpdateOrg(ctx, c.p, id, patch.apply)
	return a.send(w, http.StatusOK, after, err)
}
