package api

import (
	"net/http"

	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
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
	err := a.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := auth.RevokeToken(ctx, tx, c.p.UserID, id); err != nil {
			return err
		}
		return a.record(ctx, tx, c, c.p.OrgID, audit.ActionTokenRevoke, "token", id, nil)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
