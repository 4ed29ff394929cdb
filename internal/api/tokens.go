package api

import (
	"net/http"

	"github.com/medisac/medisac/internal/auth"
)

// tokenList is the body of GET /api/v1/tokens.
type tokenList struct {
	Tokens     []auth.APIToken `json:"tokens"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	return listPage(a, w, r, func(p auth.Page) ([]auth.APIToken, string, error) {
		return auth.PageTokens(r.Context(), a.DB, c.p.UserID, p)
	}, func(ts []auth.APIToken, next string) any { return tokenList{ts, next} })
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	id := r.PathValue("id")
	return noContent(w, a.Orgs.RevokeToken(ctx, c.p, id))
}
