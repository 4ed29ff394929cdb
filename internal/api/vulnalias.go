package api

import (
	"encoding/json"
	"net/http"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/vuln"
)

func (a *API) vulnAliasRoutes() []route {
	return []route{
		{"GET", "/api/v1/vuln/aliases", true, false, a.vulnGetAliases},
		{"PUT", "/api/v1/vuln/aliases", true, true, a.vulnPutAliases},
	}
}

// aliasTable is the alias table in force with its stored history.
type aliasTable struct {
	Version string              `json:"version"`
	Shipped bool                `json:"shipped"`
	Table   json.RawMessage     `json:"table"`
	History []vuln.AliasVersion `json:"history"`
}

func (a *API) aliasWatch() *vuln.Watch { return a.Vuln }

func (a *API) vulnGetAliases(w http.ResponseWriter, r *http.Request, c *call) error {
	if !c.p.IsOperator() {
		return apperr.New(apperr.Forbidden, "vulnalias.err.operators_only")
	}
	ctx := r.Context()
	vw := a.aliasWatch()
	if err := vw.ReloadAliases(ctx); err != nil {
		return err
	}
	out := aliasTable{Version: vw.Aliases.Version(), Table: vw.Aliases.JSON()}
	out.Shipped = out.Version == vuln.ShippedAliasesVersion()
	var err error
	if out.History, err = vuln.AliasHistory(ctx, a.DB, 100); err != nil {
		return err
	}
	out.History = nonNil(out.History)
	a.reply(w, http.StatusOK, out)
	return nil
}

func (a *API) vulnPutAliases(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := vuln.AuthorizeAliasChange(c.p); err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	note := r.URL.Query().Get("note")
	ch, err := a.Vuln.ChangeAliases(r.Context(), c.p, vuln.AliasSave{Body: body, Action: vuln.AliasUpload, Note: note}, nil, nil)
	return a.send(w, http.StatusOK, ch, err)
}
