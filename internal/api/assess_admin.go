package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/db"
)

// overviewFamilies are the checklist families of the progress overviews
// (the ISAC's and a hospital group's), the first by default.
var overviewFamilies = []string{"mhlw-institution", "mhlw-pharmacy", "mhlw-urgent"}

// overviewQuery reads the family and fiscal year of a progress overview
// from the query (family: the first of overviewFamilies, year: this fiscal
// year, when not given); a bad value is refused with yearKey or familyKey.
func (a *API) overviewQuery(r *http.Request, yearKey, familyKey string) (family string, fy int, err error) {
	q := r.URL.Query()
	fy = assess.FiscalYearOf(a.Now())
	if y := q.Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n <= 2000 || n >= 2100 {
			return "", 0, apperr.Field("year", yearKey)
		}
		fy = n
	}
	family = overviewFamilies[0]
	if f := q.Get("family"); f != "" {
		if !slices.Contains(overviewFamilies, f) {
			return "", 0, apperr.Field("family", familyKey)
		}
		family = f
	}
	return family, fy, nil
}

// asOverview is the ISAC operators' view of every member institution's
// progress on one family's checklist of a fiscal year. Like the web page,
// it is not found for anyone but an operator.
func (a *API) asOverview(w http.ResponseWriter, r *http.Request, c *call) error {
	if !c.p.IsOperator() {
		return db.ErrNotFound
	}
	family, fy, err := a.overviewQuery(r, "assess.api.year_invalid", "assess.api.family_invalid")
	if err != nil {
		return err
	}
	ov, err := assess.ProgressOverview(r.Context(), a.DB, a.assessRegistry(), family, fy)
	if err != nil {
		return err
	}
	ov.Shared = nonNil(ov.Shared)
	a.reply(w, http.StatusOK, ov)
	return nil
}

// asCloseSurvey stops a survey of the caller's organisation from taking
// responses. Only the owner reaches it; a closed survey is a Conflict.
func (a *API) asCloseSurvey(w http.ResponseWriter, r *http.Request, c *call) error {
	s, err := a.Assess.CloseSurvey(r.Context(), c.p, r.PathValue("id"), r.PathValue("survey"))
	return a.send(w, http.StatusOK, s, err)
}

// inboxRow is a request addressed to the caller's (vendor) organisation as
// the vendor sees it: who asked for which sheet, and how far the vendor's
// own sheet of that edition and year is, when it has one.
type inboxRow struct {
	ID           string           `json:"id"`
	CustomerID   string           `json:"customer_org_id"`
	CustomerName string           `json:"customer_name"`
	EditionID    string           `json:"edition_id"`
	EditionTitle string           `json:"edition_title,omitempty"`
	FiscalYear   int              `json:"fiscal_year"`
	DueOn        string           `json:"due_on,omitempty"`
	State        string           `json:"state"`
	AnsweredAt   *time.Time       `json:"answered_at,omitempty"`
	CreatedAt    time.Time        `json:"created_at"`
	OwnProgress  *assess.Progress `json:"own_progress"`
}

// inboxRows turns requests into rows, reading the vendor's own sheets of
// vendor-kind editions once.
func (a *API) inboxRows(r *http.Request, q db.Querier, orgID string, rs []*assess.VendorRequest) ([]inboxRow, error) {
	ctx := r.Context()
	reg := a.assessRegistry()
	own := map[string]assess.Progress{}
	sheets, err := assess.ListSheets(ctx, q, orgID, assess.SheetFilter{})
	if err != nil {
		return nil, err
	}
	for _, sh := range sheets {
		e, err := reg.Get(ctx, q, orgID, sh.EditionID)
		if err != nil || e.Kind != assess.KindVendor {
			continue
		}
		full, err := assess.GetSheet(ctx, q, orgID, sh.ID)
		if err != nil {
			return nil, err
		}
		own[sh.EditionID+"/"+strconv.Itoa(sh.FiscalYear)] = full.Progress(e)
	}
	today := assess.Today(a.Now())
	out := make([]inboxRow, 0, len(rs))
	for _, x := range rs {
		row := inboxRow{ID: x.ID, CustomerID: x.OrgID, CustomerName: x.CustomerName, EditionID: x.EditionID, FiscalYear: x.FiscalYear,
			DueOn: x.DueOn, State: x.State(today), AnsweredAt: x.AnsweredAt, CreatedAt: x.CreatedAt}
		if e, err := reg.Get(ctx, q, x.OrgID, x.EditionID); err == nil {
			row.EditionTitle = e.Title + " " + e.Version
		}
		if p, ok := own[x.EditionID+"/"+strconv.Itoa(x.FiscalYear)]; ok {
			row.OwnProgress = &p
		}
		out = append(out, row)
	}
	return out, nil
}

// asInbox lists the vendor-sheet requests addressed to the organisation of
// the path, newest first.
func (a *API) asInbox(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID, pg, err := asOrgPage(r, c, false)
	if err != nil {
		return err
	}
	rs, next, err := assess.VendorInboxPage(r.Context(), a.DB, orgID, pg)
	if err != nil {
		return err
	}
	out, err := a.inboxRows(r, a.DB, orgID, rs)
	return a.send(w, http.StatusOK, map[string]any{"requests": out, "next_cursor": next}, err)
}

// asInboxAnswer answers one request addressed to the organisation of the
// path with a copy of its own complete sheet of the same edition and year,
// signed with the organisation's and the caller's names. Both the customer
// and the vendor get an audit entry.
func (a *API) asInboxAnswer(w http.ResponseWriter, r *http.Request, c *call) error {
	orgID := r.PathValue("id")
	req, err := a.Assess.AnswerFromOwnSheet(r.Context(), c.p, orgID, r.PathValue("request"))
	if err != nil {
		return err
	}
	rows, err := a.inboxRows(r, a.DB, orgID, []*assess.VendorRequest{req})
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, rows[0])
	return nil
}
