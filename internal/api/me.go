package api

import (
	"net/http"

	"github.com/medisac/medisac/internal/auth"
)

// meResponse is the body of GET /api/v1/me.
type meResponse struct {
	User        *auth.User        `json:"user"`
	Org         *auth.Org         `json:"org"`
	Role        auth.Role         `json:"role"`
	Memberships []auth.Membership `json:"memberships"`
	Token       tokenInfo         `json:"token"`
}

type tokenInfo struct {
	ID    string `json:"id"`
	Write bool   `json:"write"`
}

func (a *API) me(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	u, err := auth.GetUser(ctx, a.DB, c.p.UserID)
	if err != nil {
		return err
	}
	o, err := auth.GetOrg(ctx, a.DB, c.p, c.p.OrgID)
	if err != nil {
		return err
	}
	ms, err := auth.MembershipsOf(ctx, a.DB, c.p.UserID)
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, meResponse{User: u, Org: o, Role: c.p.Role, Memberships: nonNil(ms),
		Token: tokenInfo{ID: c.p.TokenID, Write: c.p.TokenWrite}})
	return nil
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
