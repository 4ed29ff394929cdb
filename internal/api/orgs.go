package api

import (
	"context"
	"net/http"
	"time"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// orgList is the body of GET /api/v1/orgs.
type orgList struct {
	Orgs   []*auth.Org `json:"orgs"`
	Limit  int         `json:"limit"`
	Offset int         `json:"offset"`
}

func (a *API) listOrgs(w http.ResponseWriter, r *http.Request, c *call) error {
	f, err := parseOrgFilter(r.URL.Query())
	if err != nil {
		return err
	}
	orgs, err := auth.ListOrgs(r.Context(), a.DB, c.p, f)
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, orgList{Orgs: nonNil(orgs), Limit: f.Limit, Offset: f.Offset})
	return nil
}

func (a *API) getOrg(w http.ResponseWriter, r *http.Request, c *call) error {
	o, err := auth.GetOrg(r.Context(), a.DB, c.p, r.PathValue("id"))
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, o)
	return nil
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
	body, err := readBody(r)
	if err != nil {
		return err
	}
	in, err := decodeOrgCreate(body)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := a.Now()
	var out orgCreated
	err = a.DB.InTx(ctx, func(tx *db.Tx) error {
		o, err := auth.CreateOrgAs(ctx, tx, c.p, in.OrgInput, now)
		if err != nil {
			return err
		}
		out.Org = o
		if err := a.recordOne(ctx, tx, c, o.ID, audit.ActionOrgCreate, "org", o.ID, map[string]any{"name": o.Name, "kind": string(o.Kind)}); err != nil {
			return err
		}
		if in.AdminEmail == "" {
			return nil
		}
		// A new organisation has no admin: its first admin's invitation is
		// mailed to nobody but the invitee.
		inv, err := auth.Invite(ctx, tx, a.notices(), c.p, o.ID, auth.InviteInput{Email: in.AdminEmail, Role: auth.RoleAdmin}, now)
		if err != nil {
			return err
		}
		out.Invitation, err = a.sendInvitation(ctx, tx, c, o, inv)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/orgs/"+out.Org.ID)
	a.reply(w, http.StatusCreated, out)
	return nil
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
	var after *auth.Org
	err = a.DB.InTx(ctx, func(tx *db.Tx) error {
		cur, err := auth.GetOrg(ctx, tx, c.p, id)
		if err != nil {
			return err
		}
		in := auth.OrgInput{Kind: cur.Kind, Name: cur.Name, NameKana: cur.NameKana, Prefecture: cur.Prefecture,
			MedicalCode: cur.MedicalCode, Beds: cur.Beds, MFAPolicy: cur.MFAPolicy}
		patch.apply(&in)
		before, upd, err := auth.UpdateOrg(ctx, tx, a.notices(), c.p, id, in, a.Now())
		if err != nil {
			return err
		}
		after = upd
		ch := auth.OrgChanges(before, upd)
		if len(ch) == 0 {
			return nil
		}
		return a.recordOne(ctx, tx, c, id, auth.OrgUpdateAction(before, upd), "org", id, ch)
	})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, after)
	return nil
}

// notices mails membership changes to the organisations' admins.
func (a *API) notices() *auth.Notices {
	if a.Mailer == nil {
		return nil
	}
	return &auth.Notices{Mail: a.Mailer, Catalog: a.Catalog, BaseURL: a.BaseURL}
}

// recordOne records one audit entry of a change to organisation orgID, in
// that organisation's log (where its admins and auditors read it).
func (a *API) recordOne(ctx context.Context, tx *db.Tx, c *call, orgID, action, objType, objID string, details map[string]any) error {
	_, err := a.Audit.Append(ctx, tx, audit.Entry{ActorID: c.p.UserID, Actor: c.p.Email, OrgID: orgID, Action: action, ObjectType: objType,
		ObjectID: objID, Outcome: audit.Success, IP: c.ip, UserAgent: c.ua, Details: details})
	return err
}
