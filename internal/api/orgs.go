package api

import (
	"net/http"
	"time"

	"github.com/medisac/medisac/internal/apperr"
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
	if !c.p.IsOperator() {
		return apperr.New(apperr.Forbidden, "api.forbidden.operator_only")
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
		o, err := auth.CreateOrg(ctx, tx, in.OrgInput, now)
		if err != nil {
			return err
		}
		out.Org = o
		if err := a.record(ctx, tx, c, o.ID, audit.ActionOrgCreate, "org", o.ID, map[string]any{"name": o.Name, "kind": o.Kind}); err != nil {
			return err
		}
		if in.AdminEmail == "" {
			return nil
		}
		out.Invitation, err = a.createInvite(ctx, tx, c, o, in.AdminEmail, auth.RoleAdmin, now)
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
		if patch.Kind != nil && *patch.Kind != cur.Kind && !c.p.IsOperator() {
			return &apperr.Error{Code: apperr.Forbidden, Key: "api.org.kind_locked", Field: "kind"}
		}
		in := auth.OrgInput{Kind: cur.Kind, Name: cur.Name, NameKana: cur.NameKana, Prefecture: cur.Prefecture,
			MedicalCode: cur.MedicalCode, Beds: cur.Beds, MFAPolicy: cur.MFAPolicy}
		patch.apply(&in)
		before, upd, err := auth.UpdateOrg(ctx, tx, c.p, id, in, a.Now())
		if err != nil {
			return err
		}
		after = upd
		return a.record(ctx, tx, c, id, audit.ActionOrgUpdate, "org", id, orgChanges(before, upd))
	})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, after)
	return nil
}

// orgChanges lists the fields that differ as {"field": [before, after]}.
func orgChanges(b, a *auth.Org) map[string]any {
	ch := map[string]any{}
	add := func(name string, x, y any) {
		if x != y {
			ch[name] = []any{x, y}
		}
	}
	add("kind", b.Kind, a.Kind)
	add("name", b.Name, a.Name)
	add("name_kana", b.NameKana, a.NameKana)
	add("prefecture", b.Prefecture, a.Prefecture)
	add("medical_code", b.MedicalCode, a.MedicalCode)
	add("mfa_policy", b.MFAPolicy, a.MFAPolicy)
	bb, ab := any(nil), any(nil)
	if b.Beds != nil {
		bb = *b.Beds
	}
	if a.Beds != nil {
		ab = *a.Beds
	}
	add("beds", bb, ab)
	return ch
}
