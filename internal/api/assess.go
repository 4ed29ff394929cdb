package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/auth"
	"github.com/medisac/medisac/internal/db"
)

// The assessment API works on the checklists of the organisation in the
// path. Sheets, evidence and vendor requests are reached by the
// organisation's own members only; ISAC operators reach their own surveys
// (as owners) and nobody's sheets. Survey invitees reach a survey's
// response and comparison routes.

const asBase = "/api/v1/orgs/{id}/assess"

// assessRegistry holds the questionnaire editions (the service's).
func (a *API) assessRegistry() *assess.Registry { return a.Assess.Registry }

// maxEvidenceBody is the largest evidence upload body: the file in base64
// plus the JSON around it.
const maxEvidenceBody = assess.MaxFileSize*4/3 + 64<<10

func init() {
	largeBodies["POST "+asBase+"/sheets/{sheet}/evidence"] = maxEvidenceBody
}

// assessRoutes are the assessment entries of the route table.
func (a *API) assessRoutes() []route {
	return []route{
		{"GET", "/api/v1/assess/editions", true, false, a.asEditions},
		{"GET", asBase + "/sheets", true, false, a.asListSheets},
		{"POST", asBase + "/sheets", true, true, a.asStartSheet},
		{"GET", asBase + "/sheets/{sheet}", true, false, a.asGetSheet},
		{"PUT", asBase + "/sheets/{sheet}/answers", true, true, a.asSaveAnswers},
		{"GET", asBase + "/sheets/{sheet}/evidence", true, false, a.asListEvidence},
		{"POST", asBase + "/sheets/{sheet}/evidence", true, true, a.asAddEvidence},
		{"GET", asBase + "/sheets/{sheet}/evidence/{ev}", true, false, a.asGetEvidence},
		{"DELETE", asBase + "/sheets/{sheet}/evidence/{ev}", true, true, a.asDeleteEvidence},
		{"POST", asBase + "/sheets/{sheet}/sign", true, true, a.asSign},
		{"POST", asBase + "/sheets/{sheet}/reopen", true, true, a.asReopen},
		{"GET", asBase + "/sheets/{sheet}/report", true, false, a.asReport},
		{"GET", asBase + "/vendor-requests", true, false, a.asListVendorRequests},
		{"POST", asBase + "/vendor-requests", true, true, a.asRequestVendor},
		{"GET", asBase + "/surveys", true, false, a.asListSurveys},
		{"POST", asBase + "/surveys", true, true, a.asCreateSurvey},
		{"GET", asBase + "/surveys/{survey}", true, false, a.asGetSurvey},
		{"GET", asBase + "/surveys/{survey}/results", true, false, a.asSurveyResults},
		{"POST", asBase + "/surveys/{survey}/remind", true, true, a.asSurveyRemind},
		{"GET", asBase + "/surveys/{survey}/response", true, false, a.asGetResponse},
		{"PUT", asBase + "/surveys/{survey}/response", true, true, a.asRespond},
		{"GET", asBase + "/surveys/{survey}/comparison", true, false, a.asComparison},
		{"POST", asBase + "/surveys/{survey}/close", true, true, a.asCloseSurvey},
		{"GET", asBase + "/inbox", true, false, a.asInbox},
		{"POST", asBase + "/inbox/{request}/answer", true, true, a.asInboxAnswer},
		{"GET", "/api/v1/assess/overview", true, false, a.asOverview},
	}
}

// asOrg checks that the caller works in the organisation of the path;
// operators pass only where operator is set.
func asOrg(r *http.Request, c *call, operator bool) (string, error) {
	id := r.PathValue("id")
	if c.p == nil || c.p.OrgID != id || (c.p.IsOperator() && !operator) {
		return "", db.ErrNotFound
	}
	return id, nil
}

// asOrgPage is asOrg followed by the page the query asks for.
func asOrgPage(r *http.Request, c *call, operator bool) (string, auth.Page, error) {
	orgID, err := asOrg(r, c, operator)
	if err != nil {
		return "", auth.Page{}, err
	}
	pg, err := pageOf(r)
	return orgID, pg, err
}

// asOrgJSON is asOrg followed by the request body decoded into a T.
func asOrgJSON[T any](r *http.Request, c *call, operator bool) (string, T, error) {
	orgID, err := asOrg(r, c, operator)
	if err != nil {
		var none T
		return "", none, err
	}
	in, err := readJSON[T](r)
	return orgID, in, err
}

type editionInfo struct {
	ID         string `json:"id"`
	Family     string `json:"family"`
	Kind       string `json:"kind"`
	Title      string `json:"title"`
	Version    string `json:"version"`
	Issuer     string `json:"issuer"`
	FiscalYear int    `json:"fiscal_year"`
	SourceURL  string `json:"source_url,omitempty"`
	Unverified bool   `json:"unverified"`
	Builtin    bool   `json:"builtin"`
	Cells      int    `json:"cells"`
}

func (a *API) asEditions(w http.ResponseWriter, r *http.Request, c *call) error {
	es, err := a.assessRegistry().List(r.Context(), a.DB, c.p.OrgID)
	if err != nil {
		return err
	}
	out := make([]editionInfo, 0, len(es))
	for _, e := range es {
		out = append(out, editionInfo{ID: e.ID, Family: e.Family, Kind: e.Kind, Title: e.Title, Version: e.Version, Issuer: e.Issuer,
			FiscalYear: e.FiscalYear, SourceURL: e.SourceURL, Unverified: e.HasUnverified(), Builtin: e.Builtin, Cells: e.CellCount()})
	}
	a.reply(w, http.StatusOK, map[string]any{"editions": out})
	return nil
}

type sheetOut struct {
	*assess.Sheet
	Progress assess.Progress `json:"progress"`
	Answers  []assess.Answer `json:"answers"`
}

func sheetBody(sh *assess.Sheet, e *assess.Edition) sheetOut {
	out := sheetOut{Sheet: sh, Progress: sh.Progress(e), Answers: []assess.Answer{}}
	for _, it := range e.Items() {
		for _, c := range it.CellIDs() {
			if x, ok := sh.Answers[assess.Key{Item: it.ID, Cell: c}]; ok {
				out.Answers = append(out.Answers, x)
			}
		}
	}
	return out
}

// asSheet reads the sheet of the path for the caller's organisation.
func (a *API) asSheet(r *http.Request, c *call, q db.Querier) (*assess.Sheet, *assess.Edition, error) {
	orgID, err := asOrg(r, c, false)
	if err != nil {
		return nil, nil, err
	}
	sh, err := assess.GetSheet(r.Context(), q, orgID, r.PathValue("sheet"))
	if err != nil {
		return nil, nil, err
	}
	e, err := a.assessRegistry().Get(r.Context(), q, orgID, sh.EditionID)
	if err != nil {
		return nil, nil, err
	}
	return sh, e, nil
}

func (a *API) asListSheets(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := asOrg(r, c, false)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := assess.SheetFilter{Family: q.Get("family")}
	if s := q.Get("fiscal_year"); s != "" {
		if f.FiscalYear, err = strconv.Atoi(s); err != nil {
			return apperr.Field("fiscal_year", "assess.sheet.fy_invalid")
		}
	}
	pg, err := pageOf(r)
	if err != nil {
		return err
	}
	page, err := assess.ListSheetsPage(r.Context(), a.DB, orgID, f, pg)
	if err != nil {
		return err
	}
	out := []sheetOut{}
	for _, sh := range page.Sheets {
		e, err := a.assessRegistry().Get(r.Context(), a.DB, orgID, sh.EditionID)
		if err != nil {
			continue
		}
		b := sheetBody(sh, e)
		b.Answers = nil
		out = append(out, b)
	}
	a.reply(w, http.StatusOK, map[string]any{"sheets": out, "next_cursor": page.NextCursor})
	return nil
}

// sheetInput is the body of POST …/sheets.
type sheetInput struct {
	EditionID  string `json:"edition_id"`
	FiscalYear int    `json:"fiscal_year"`
}

func (a *API) asStartSheet(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, in, err := asOrgJSON[sheetInput](r, c, false)
	if err != nil {
		return err
	}
	sh, e, err := a.Assess.CreateSheet(r.Context(), c.p, orgID, in.EditionID, in.FiscalYear)
	return a.sendSheet(w, http.StatusCreated, sh, e, renameField(err, "edition", "edition_id"))
}

// sendSheet ends a handler that reads or changes a sheet: it replies the
// sheet with status, or returns err when the call failed.
func (a *API) sendSheet(w http.ResponseWriter, status int, sh *assess.Sheet, e *assess.Edition, err error) error {
	if err != nil {
		return err
	}
	return a.send(w, status, sheetBody(sh, e), nil)
}

// renameField names the API's field of a refusal that names a form's.
func renameField(err error, form, field string) error {
	if ae := apperr.From(err); ae != nil && ae.Field == form {
		out := *ae
		out.Field = field
		return &out
	}
	return err
}

func (a *API) asGetSheet(w http.ResponseWriter, r *http.Request, c *call) error {
	sh, e, err := a.asSheet(r, c, a.DB)
	return a.sendSheet(w, http.StatusOK, sh, e, err)
}

type answersIn struct {
	Answers []assess.Answer `json:"answers"`
}

// saveAnswers answers a body of answers to the sheet or survey named by the
// path value key, saved by save: a sheet of the caller's organisation
// (operator false) or a survey it was invited into (operator true).
func (a *API) saveAnswers(w http.ResponseWriter, r *http.Request, c *call, operator bool, key string,
	save func(*assess.Service, context.Context, *auth.Principal, string, string, []assess.Answer) (*assess.Sheet, *assess.Edition, error)) error {
	orgID, in, err := asOrgJSON[answersIn](r, c, operator)
	if err != nil {
		return err
	}
	sh, e, err := save(a.Assess, r.Context(), c.p, orgID, r.PathValue(key), in.Answers)
	return a.sendSheet(w, http.StatusOK, sh, e, err)
}

func (a *API) asSaveAnswers(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.saveAnswers(w, r, c, false, "sheet", (*assess.Service).SaveAnswers)
}

func (a *API) asListEvidence(w http.ResponseWriter, r *http.Request, c *call) error {
	sh, _, err := a.asSheet(r, c, a.DB)
	if err != nil {
		return err
	}
	evs, err := assess.ListEvidence(r.Context(), a.DB, sh.OrgID, sh.ID, r.URL.Query().Get("item_id"))
	return a.send(w, http.StatusOK, map[string]any{"evidence": nonNil(evs)}, err)
}

func (a *API) asAddEvidence(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := asOrg(r, c, false)
	if err != nil {
		return err
	}
	if _, err := assess.GetSheet(r.Context(), a.DB, orgID, r.PathValue("sheet")); err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return apperr.New(apperr.TooLarge, "assess.file.too_large", assess.MaxFileSize>>20)
	}
	if err != nil {
		return apperr.Wrap(err, apperr.Invalid, "api.bad_json.read")
	}
	var in struct {
		ItemID   string `json:"item_id"`
		Name     string `json:"name"`
		Content  string `json:"content_base64"`
		LinkType string `json:"link_type"`
		LinkRef  string `json:"link_ref"`
		Note     string `json:"note"`
	}
	if err := decodeJSON(body, &in); err != nil {
		return err
	}
	ein := assess.EvidenceInput{Name: in.Name, LinkType: in.LinkType, LinkRef: in.LinkRef, Note: in.Note}
	if in.Content != "" {
		if ein.Data, err = base64.StdEncoding.DecodeString(in.Content); err != nil {
			return apperr.Field("content_base64", "assess.api.bad_base64")
		}
	}
	ev, err := a.Assess.AddEvidence(r.Context(), c.p, orgID, r.PathValue("sheet"), in.ItemID, ein)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return apperr.Field("item_id", "assess.api.unknown_item")
		}
		return err
	}
	a.reply(w, http.StatusCreated, ev)
	return nil
}

func (a *API) asGetEvidence(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := asOrg(r, c, false)
	if err != nil {
		return err
	}
	f, data, err := a.Assess.EvidenceFile(r.Context(), c.p, orgID, r.PathValue("sheet"), r.PathValue("ev"))
	if err != nil {
		return err
	}
	writeFile(w, f.ContentType, f.Name, data)
	return nil
}

func writeFile(w http.ResponseWriter, contentType, name string, data []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

func (a *API) asDeleteEvidence(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := asOrg(r, c, false)
	if err != nil {
		return err
	}
	_, err = a.Assess.DeleteEvidence(r.Context(), c.p, orgID, r.PathValue("sheet"), r.PathValue("ev"))
	return noContent(w, err)
}

func (a *API) asSign(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := asOrg(r, c, false)
	if err != nil {
		return err
	}
	in, err := readOptionalJSON[struct {
		Name string `json:"name"`
	}](r)
	if err != nil {
		return err
	}
	out, e, err := a.Assess.Sign(r.Context(), c.p, orgID, r.PathValue("sheet"), in.Name)
	return a.sendSheet(w, http.StatusOK, out, e, err)
}

func (a *API) asReopen(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := asOrg(r, c, false)
	if err != nil {
		return err
	}
	out, e, err := a.Assess.Reopen(r.Context(), c.p, orgID, r.PathValue("sheet"))
	return a.sendSheet(w, http.StatusOK, out, e, err)
}

func (a *API) asReport(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := asOrg(r, c, false)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = assess.FormatPDF
	}
	var buf bytes.Buffer
	sh, e, err := a.Assess.Export(r.Context(), c.p, orgID, r.PathValue("sheet"), format, &buf)
	if err != nil {
		return err
	}
	ct := "application/pdf"
	if format == assess.FormatXLSX {
		ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	writeFile(w, ct, assess.ReportName(e, sh, format), buf.Bytes())
	return nil
}

func (a *API) asListVendorRequests(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, pg, err := asOrgPage(r, c, false)
	if err != nil {
		return err
	}
	fy, _ := strconv.Atoi(r.URL.Query().Get("fiscal_year"))
	page, err := assess.ListVendorRequestsPage(r.Context(), a.DB, orgID, fy, pg)
	if err != nil {
		return err
	}
	type row struct {
		*assess.VendorRequest
		State string `json:"state"`
	}
	out := []row{}
	today := assess.Today(a.Now())
	for _, x := range page.Requests {
		out = append(out, row{x, x.State(today)})
	}
	a.reply(w, http.StatusOK, map[string]any{"vendor_requests": out, "next_cursor": page.NextCursor})
	return nil
}

func (a *API) asRequestVendor(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, in, err := asOrgJSON[assess.VendorRequestInput](r, c, false)
	if err != nil {
		return err
	}
	out, err := a.Assess.RequestVendors(r.Context(), c.p, orgID, in)
	if err != nil {
		return err
	}
	a.reply(w, http.StatusCreated, out[0])
	return nil
}

func (a *API) asListSurveys(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, pg, err := asOrgPage(r, c, true)
	if err != nil {
		return err
	}
	ctx := r.Context()
	owned, invited, next, err := auth.PagePair(pg, func(p auth.Page) ([]*assess.Survey, string, error) {
		return assess.OwnedSurveysPage(ctx, a.DB, orgID, p)
	}, func(p auth.Page) ([]*assess.Invitation, string, error) {
		return assess.InvitationsPage(ctx, a.DB, orgID, p)
	})
	return a.send(w, http.StatusOK, map[string]any{"owned": nonNil(owned), "invited": nonNil(invited), "next_cursor": next}, err)
}

func (a *API) asCreateSurvey(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := asOrg(r, c, true)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var in struct {
		Edition string           `json:"edition"`
		Filter  assess.OrgFilter `json:"filter"`
		DueOn   string           `json:"due_on"`
	}
	if err := decodeJSON(body, &in); err != nil {
		if !c.p.IsOperator() {
			return apperr.New(apperr.Forbidden, "assess.survey.operator_only")
		}
		return err
	}
	s, err := a.Assess.CreateSurvey(r.Context(), c.p, orgID, []byte(in.Edition), in.Filter, in.DueOn)
	return a.send(w, http.StatusCreated, s, err)
}

func (a *API) asGetSurvey(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	orgID, err := asOrg(r, c, true)
	if err != nil {
		return err
	}
	id := r.PathValue("survey")
	if s, err := assess.OwnedSurvey(ctx, a.DB, orgID, id); err == nil {
		a.reply(w, http.StatusOK, s)
		return nil
	} else if !apperr.Is(err, apperr.NotFound) {
		return err
	}
	invs, err := assess.Invitations(ctx, a.DB, orgID)
	if err != nil {
		return err
	}
	for _, in := range invs {
		if in.ID == id {
			a.reply(w, http.StatusOK, in)
			return nil
		}
	}
	return db.ErrNotFound
}

// groupFilter reads an aggregate group from the query: kind, prefecture
// (each repeatable), min_beds, max_beds.
func groupFilter(v url.Values) (assess.OrgFilter, error) {
	f := assess.OrgFilter{Kinds: v["kind"], Prefectures: v["prefecture"]}
	for _, p := range []struct {
		name string
		dst  **int
	}{{"min_beds", &f.MinBeds}, {"max_beds", &f.MaxBeds}} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return f, apperr.Field(p.name, "assess.api.beds")
			}
			*p.dst = &n
		}
	}
	return f, nil
}

func (a *API) asSurveyResults(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, err := asOrg(r, c, true)
	if err != nil {
		return err
	}
	g, err := groupFilter(r.URL.Query())
	if err != nil {
		return err
	}
	res, err := assess.Aggregate(r.Context(), a.DB, orgID, r.PathValue("survey"), g)
	return a.send(w, http.StatusOK, map[string]any{"min_group": assess.MinGroup, "results": nonNil(res)}, err)
}

func (a *API) asSurveyRemind(w http.ResponseWriter, r *http.Request, c *call) error {
	n, err := a.Assess.RemindSurvey(r.Context(), c.p, r.PathValue("id"), r.PathValue("survey"))
	return a.send(w, http.StatusOK, map[string]any{"reminded": n}, err)
}

// asInvited returns the survey and edition of the path for an invited
// organisation.
func (a *API) asInvited(r *http.Request, c *call) (string, *assess.Survey, *assess.Edition, error) {
	orgID, err := asOrg(r, c, true)
	if err != nil {
		return "", nil, nil, err
	}
	s, e, err := assess.SurveyFor(r.Context(), a.DB, a.assessRegistry(), orgID, r.PathValue("survey"))
	return orgID, s, e, err
}

func (a *API) asGetResponse(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, s, e, err := a.asInvited(r, c)
	if err != nil {
		return err
	}
	invs, err := assess.Invitations(r.Context(), a.DB, orgID)
	if err != nil {
		return err
	}
	for _, in := range invs {
		if in.ID != s.ID {
			continue
		}
		if in.SheetID == "" {
			a.reply(w, http.StatusOK, map[string]any{"survey_id": s.ID, "answers": []assess.Answer{}})
			return nil
		}
		sh, err := assess.GetSheet(r.Context(), a.DB, orgID, in.SheetID)
		if err != nil {
			return err
		}
		a.reply(w, http.StatusOK, sheetBody(sh, e))
		return nil
	}
	return db.ErrNotFound
}

func (a *API) asRespond(w http.ResponseWriter, r *http.Request, c *call) error {
	return a.saveAnswers(w, r, c, true, "survey", (*assess.Service).Respond)
}

func (a *API) asComparison(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, s, _, err := a.asInvited(r, c)
	if err != nil {
		return err
	}
	g, err := groupFilter(r.URL.Query())
	if err != nil {
		return err
	}
	res, err := assess.Comparable(r.Context(), a.DB, orgID, s.ID, g)
	if err != nil {
		return err
	}
	own := []assess.Answer{}
	invs, err := assess.Invitations(r.Context(), a.DB, orgID)
	if err != nil {
		return err
	}
	for _, in := range invs {
		if in.ID == s.ID && in.SheetID != "" {
			sh, err := assess.GetSheet(r.Context(), a.DB, orgID, in.SheetID)
			if err != nil {
				return err
			}
			for _, x := range sh.Answers {
				own = append(own, x)
			}
		}
	}
	a.reply(w, http.StatusOK, map[string]any{"min_group": assess.MinGroup, "results": nonNil(res), "own": own})
	return nil
}
