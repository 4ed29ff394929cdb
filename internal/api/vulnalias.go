package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/db"
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

func (a *API) aliasWatch() *vuln.Watch {
	w := a.vulnWatch()
	w.Queue = a.Queue
	return w
}

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
	if out.History == nil {
		out.History = []vuln.AliasVersion{}
	}
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
	ctx := r.Context()
	vw := a.aliasWatch()
	if err := vw.ReloadAliases(ctx); err != nil {
		return err
	}
	ch, err := vw.SaveAliases(ctx, vuln.AliasSave{Body: body, Action: vuln.AliasUpload, Note: note, ActorID: c.p.UserID, Actor: c.p.Email},
		func(ctx context.Context, tx *db.Tx, ch vuln.AliasChange) error {
			return a.record(ctx, tx, c, c.p.OrgID, "vuln.aliases.change", "vuln_aliases", ch.ID,
				map[string]any{"old_version": ch.Old, "new_version": ch.New, "seq": ch.Seq, "note": strings.TrimSpace(note)})
		})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, ch)
	return nil
}
