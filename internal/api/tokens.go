package api

import (
	"net/http"

	"github.com/medisac/medisac/internal/auth"
)

// tokenList is the body of GET /api/v1/tokens.
type tokenList struct {
	Tokens []auth.APIToken `json:"tokens"`
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	ts, err := auth.ListTokens(r.Context(), a.DB, c.p.UserID)
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, tokenList{Tokens: nonNil(ts)})
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if err := a.Orgs.RevokeToken(ctx, c.p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
