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
	return a.send(w, http.StatusOK, tokenList{Tokens: nonNil(ts)}, err)
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	id := r.PathValue("id")
	return noContent(w, a.Orgs.RevokeToken(ctx, c.p, id))
}
