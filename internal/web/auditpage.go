package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/audit"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/i18n"
)

// auditPageSize is the number of entries per page of the audit log.
const auditPageSize = 50

type auditRow struct {
	audit.Entry
	ActionLabel, OutcomeLabel, DetailsText string
}

type auditView struct {
	Actions, Outcomes   []option
	Entries             []auditRow
	CSVURL              string
	OlderURL, NewestURL string
}

// mayReadAudit reports whether p may read its organisation's audit log,
// as the permission table says ("audit.read": admins and auditors).
func mayReadAudit(p *auth.Principal) bool {
	return auth.Allowed(p, "audit.read", auth.Target{OrgID: p.OrgID})
}

// auditQuery keeps the filter fields of a query, for the links to the next
// page and to the export.
func auditQuery(q url.Values) url.Values {
	out := url.Values{}
	for _, k := range []string{"action", "actor", "outcome", "object_type", "object", "from", "to"} {
		if v := q.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, m *member) error {
	ctx := r.Context()
	p := m.P
	if !mayReadAudit(p) {
		return apperr.New(apperr.Forbidden, "error.forbidden")
	}
	lang := m.Lang
	q := r.URL.Query()
	v := auditView{}
	for _, a := range audit.ActionPrefixes {
		v.Actions = append(v.Actions, option{Value: a, Label: audit.ActionLabel(s.Catalog, lang, a)})
	}
	for _, a := range audit.KnownActions() {
		v.Actions = append(v.Actions, option{Value: a, Label: "— " + audit.ActionLabel(s.Catalog, lang, a)})
	}
	for _, o := range []string{audit.Success, audit.Failure, audit.Denied} {
		v.Outcomes = append(v.Outcomes, option{Value: o, Label: audit.OutcomeLabel(s.Catalog, lang, o)})
	}
	pg := s.newPage(w, r, "audit.ui.title")
	pg.Form = q
	pg.Data = &v
	f, err := audit.ParseFilter(q)
	if err != nil {
		return s.renderForm(w, r, "audit", pg, err)
	}
	f.Limit = auditPageSize + 1
	f.Offset = 0
	entries, err := s.Orgs.ReadAuditLog(ctx, p, f, map[string]any{"filter": auditQuery(q).Encode(), "before": f.BeforeSeq})
	if err != nil {
		return err
	}
	base := auditQuery(q)
	if len(entries) > auditPageSize {
		entries = entries[:auditPageSize]
		older := auditQuery(q)
		older.Set("before", strconv.FormatInt(entries[len(entries)-1].Seq, 10))
		v.OlderURL = "/audit?" + older.Encode()
	}
	if f.BeforeSeq > 0 {
		v.NewestURL = "/audit?" + base.Encode()
	}
	for _, e := range entries {
		row := auditRow{Entry: e, ActionLabel: audit.ActionLabel(s.Catalog, lang, e.Action), OutcomeLabel: audit.OutcomeLabel(s.Catalog, lang, e.Outcome)}
		if len(e.Details) > 0 {
			if b, err := json.MarshalIndent(e.Details, "", "  "); err == nil {
				row.DetailsText = string(b)
			}
		}
		v.Entries = append(v.Entries, row)
	}
	v.CSVURL = "/audit.csv"
	if len(base) > 0 {
		v.CSVURL += "?" + base.Encode()
	}
	return s.renderForm(w, r, "audit", pg, nil)
}

func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request, m *member) error {
	p := m.P
	if !mayReadAudit(p) {
		return apperr.New(apperr.Forbidden, "error.forbidden")
	}
	q := r.URL.Query()
	f, err := audit.ParseFilter(q)
	if err != nil {
		return err
	}
	name := "medisac-audit-" + s.Now().In(i18n.Tokyo).Format("20060102-1504") + ".csv"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if err := s.Orgs.ExportAuditLog(r.Context(), p, f, map[string]any{"filter": auditQuery(q).Encode()}, w); err != nil {
		s.Logger.Error("audit export", "err", err)
	}
	return nil
}
