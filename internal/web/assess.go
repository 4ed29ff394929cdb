package web

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/assess"
	"github.com/medisac/medisac/internal/i18n"
)

// assessRegistry holds the questionnaire editions (the service's).
func (s *Server) assessRegistry() *assess.Registry { return s.Assess.Registry }

// assessRefusal turns a refusal of the permission table into the error
// page's error (people who only read get the read-only page); it returns
// nil for any other error, which the form shows itself.
func assessRefusal(m *member, err error) error {
	if !apperr.Is(err, apperr.Forbidden) && !apperr.Is(err, apperr.Unauthenticated) {
		return nil
	}
	if !m.P.CanWrite() {
		return apperr.New(apperr.Forbidden, "error_page.read_only")
	}
	return err
}

// assessDone ends an assessment change made through the form of page:
// success goes to `to` with the message flashKey, a refusal is the error
// page (see assessRefusal) and any other error shows page again with its
// message and form.
func (s *Server) assessDone(w http.ResponseWriter, r *http.Request, m *member, err error, page formPage, form url.Values, to, flashKey string) error {
	if err != nil {
		if rf := assessRefusal(m, err); rf != nil {
			return rf
		}
		return page(w, r, err, form)
	}
	s.flash(w, r, to, flashKey)
	return nil
}

// assessFail is assessRefusal, or err itself: for handlers without a form.
func assessFail(m *member, err error) error {
	if r := assessRefusal(m, err); r != nil {
		return r
	}
	return err
}

// assessHelpers are the template helpers every assess page view embeds.
type assessHelpers struct{}

// FYOf names a fiscal year (令和7年度).
func (assessHelpers) FYOf(fy int) string { return i18n.FiscalYearLabel("ja", fy) }

// YearOptions are the menu entries of fiscal years.
func (h assessHelpers) YearOptions(years []int) []option {
	out := make([]option, 0, len(years))
	for _, y := range years {
		out = append(out, option{Value: strconv.Itoa(y), Label: h.FYOf(y)})
	}
	return out
}

// editionOption is the menu entry of an edition; with marked, the entry
// of an edition holding unverified items says so.
func editionOption(pg *page, e *assess.Edition, marked bool) option {
	o := option{Value: e.ID, Label: e.Title + " " + e.Version}
	if marked && e.HasUnverified() {
		o.Label += " 【" + pg.T("assess.unverified") + "】"
	}
	return o
}

// AnswerLabel is the Japanese label of an answer value.
func (assessHelpers) AnswerLabel(a string) string { return assess.AnswerLabel(a) }

type assessSheetRow struct {
	Sheet    *assess.Sheet
	Edition  *assess.Edition
	Progress assess.Progress
}

type assessListView struct {
	assessHelpers
	Sheets   []assessSheetRow
	Editions []option
	Years    []int
	FY       int
}

func (s *Server) assessList(w http.ResponseWriter, r *http.Request, m *member) error {
	return s.renderAssessList(w, r, nil)
}

func (s *Server) renderAssessList(w http.ResponseWriter, r *http.Request, prevErr error) error {
	ctx := r.Context()
	p := state(r).p
	reg := s.assessRegistry()
	sheets, err := assess.ListSheets(ctx, s.DB, p.OrgID, assess.SheetFilter{})
	if err != nil {
		return err
	}
	pg := s.newPage(w, r, "assess.title")
	v := assessListView{FY: assess.FiscalYearOf(s.Now())}
	v.Years = []int{v.FY + 1, v.FY, v.FY - 1, v.FY - 2}
	for _, sh := range sheets {
		e, err := reg.Get(ctx, s.DB, p.OrgID, sh.EditionID)
		if err != nil {
			continue
		}
		v.Sheets = append(v.Sheets, assessSheetRow{Sheet: sh, Edition: e, Progress: sh.Progress(e)})
	}
	es, err := reg.List(ctx, s.DB, p.OrgID)
	if err != nil {
		return err
	}
	for _, e := range es {
		if e.Kind != assess.KindSurvey {
			v.Editions = append(v.Editions, editionOption(pg, e, true))
		}
	}
	pg.Data = v
	return s.renderForm(w, r, "assess_list", pg, prevErr)
}

func (s *Server) assessStart(w http.ResponseWriter, r *http.Request, m *member) error {
	fy, err := strconv.Atoi(r.PostForm.Get("year"))
	if err != nil {
		err = apperr.Field("year", "assess.sheet.fy_invalid")
	}
	var sh *assess.Sheet
	if err == nil {
		sh, _, err = s.Assess.CreateSheet(r.Context(), m.P, m.P.OrgID, r.PostForm.Get("edition"), fy)
	}
	if err != nil {
		if rf := assessRefusal(m, err); rf != nil {
			return rf
		}
		return s.renderAssessList(w, r, err)
	}
	http.Redirect(w, r, "/assess/sheets/"+sh.ID, http.StatusSeeOther)
	return nil
}

// loadSheet reads the sheet of the path for the signed-in organisation.
func (s *Server) loadSheet(r *http.Request) (*assess.Sheet, *assess.Edition, error) {
	p := state(r).p
	sh, err := assess.GetSheet(r.Context(), s.DB, p.OrgID, r.PathValue("id"))
	if err != nil {
		return nil, nil, err
	}
	e, err := s.assessRegistry().Get(r.Context(), s.DB, p.OrgID, sh.EditionID)
	if err != nil {
		return nil, nil, err
	}
	return sh, e, nil
}

type assessItemRow struct {
	Item     *assess.Item
	Status   string
	Answers  []assessCell
	Evidence int
}

type assessCell struct {
	ID, Label string
	A         assess.Answer
}

type assessSheetView struct {
	assessHelpers
	Sheet    *assess.Sheet
	Edition  *assess.Edition
	Progress assess.Progress
	Sections []assessSectionView
	CanSign  bool
	HasPrev  bool
}

type assessSectionView struct {
	Title string
	Items []assessItemRow
}

func (s *Server) assessSheet(w http.ResponseWriter, r *http.Request, m *member) error {
	sh, e, err := s.loadSheet(r)
	if err != nil {
		return err
	}
	evs, err := assess.ListEvidence(r.Context(), s.DB, sh.OrgID, sh.ID, "")
	if err != nil {
		return err
	}
	count := map[string]int{}
	for _, ev := range evs {
		count[ev.ItemID]++
	}
	p := m.P
	v := assessSheetView{Sheet: sh, Edition: e, Progress: sh.Progress(e), CanSign: p.IsAdmin() && p.CanWrite()}
	for _, sec := range e.Sections {
		sv := assessSectionView{Title: sec.Title}
		for _, it := range sec.Items {
			row := assessItemRow{Item: it, Status: sh.ItemStatus(e, it), Evidence: count[it.ID]}
			for _, c := range it.CellIDs() {
				row.Answers = append(row.Answers, assessCell{ID: c, Label: e.CellLabel(c), A: sh.Answers[assess.Key{Item: it.ID, Cell: c}]})
			}
			sv.Items = append(sv.Items, row)
		}
		v.Sections = append(v.Sections, sv)
	}
	prev, err := assess.Previous(r.Context(), s.DB, sh)
	if err != nil {
		return err
	}
	v.HasPrev = prev != nil
	pg := s.newPage(w, r, "assess.sheet.title")
	pg.Title = e.Title
	pg.Data = v
	s.render(w, r, http.StatusOK, "assess_sheet", pg)
	return nil
}

type assessItemView struct {
	assessHelpers
	Sheet    *assess.Sheet
	Edition  *assess.Edition
	Item     *assess.Item
	Cells    []assessCell
	Prev     map[string]assess.Answer
	HasPrev  bool
	Hints    []assessHintView
	Evidence []*assess.Evidence
	Skipped  bool
	Problems []string
	Next     string
	FYStart  string
	FYEnd    string
}

type assessHintView struct {
	H    assess.Hint
	Text string
}

// Checked reports whether multi item m has option o chosen in value.
func (v assessItemView) Checked(value, o string) bool {
	for _, x := range strings.Split(value, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// MaxMB is the largest evidence file in megabytes, as the store accepts it.
func (v assessItemView) MaxMB() int { return assess.MaxFileSize >> 20 }

// LinkTypes lists the kinds of evidence links.
func (v assessItemView) LinkTypes() []string { return assess.LinkTypes }

func (s *Server) renderAssessItem(w http.ResponseWriter, r *http.Request, prevErr error, submitted url.Values) error {
	ctx := r.Context()
	sh, e, err := s.loadSheet(r)
	if err != nil {
		return err
	}
	it := e.Item(r.PathValue("item"))
	if it == nil {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	v := assessItemView{Sheet: sh, Edition: e, Item: it, Skipped: e.Skipped(sh.Answers)[it.ID], Prev: map[string]assess.Answer{},
		FYStart: assess.FYStart(sh.FiscalYear), FYEnd: assess.FYEnd(sh.FiscalYear)}
	if it.DueFY > sh.FiscalYear {
		v.FYEnd = assess.FYEnd(it.DueFY)
	}
	prev, err := assess.Previous(ctx, s.DB, sh)
	if err != nil {
		return err
	}
	start := map[assess.Key]assess.Answer{}
	if prev != nil {
		v.HasPrev = true
		for _, c := range it.CellIDs() {
			v.Prev[c] = prev.Answers[assess.Key{Item: it.ID, Cell: c}]
		}
		if r.URL.Query().Get("start") == "prev" {
			start = assess.StartFrom(e, prev, assess.Today(s.Now()))
		}
	}
	form := url.Values{}
	for _, c := range it.CellIDs() {
		a, ok := sh.Answers[assess.Key{Item: it.ID, Cell: c}]
		if st, has := start[assess.Key{Item: it.ID, Cell: c}]; has && !ok {
			a = st
		}
		v.Cells = append(v.Cells, assessCell{ID: c, Label: e.CellLabel(c), A: a})
		form.Set("answer1."+c, a.Answer1)
		form.Set("date1."+c, a.Date1)
		form.Set("target."+c, a.Target)
		form.Set("answer2."+c, a.Answer2)
		form.Set("date2."+c, a.Date2)
		form.Set("value."+c, a.Value)
		form.Set("comment."+c, a.Comment)
	}
	hs, err := assess.HintsFor(ctx, s.DB, s.Assess.HintsFrom(), e, sh.OrgID, sh.ID, s.Now())
	if err != nil {
		return err
	}
	lang := state(r).lang
	for _, h := range hs {
		if h.ItemID == it.ID {
			v.Hints = append(v.Hints, assessHintView{H: h, Text: s.Catalog.T(lang, h.Msg, h.Args...)})
		}
	}
	if v.Evidence, err = assess.ListEvidence(ctx, s.DB, sh.OrgID, sh.ID, it.ID); err != nil {
		return err
	}
	items := e.Items()
	for i, x := range items {
		if x.ID == it.ID && i+1 < len(items) {
			v.Next = items[i+1].ID
		}
	}
	pg := s.newPage(w, r, "assess.item.title")
	pg.Title = it.Number + " " + e.Title
	pg.Form = withForm(form, submitted)
	v.Problems = append(v.Problems, s.problemTexts(lang, prevErr)...)
	pg.Data = v
	return s.renderForm(w, r, "assess_item", pg, prevErr)
}

// problemTexts translates the answers' problems an assess error carries
// (assess.Problems), for the list above a form; none without one.
func (s *Server) problemTexts(lang string, err error) []string {
	if err == nil {
		return nil
	}
	ps, _ := apperr.From(err).Err.(assess.Problems)
	var out []string
	for _, p := range ps {
		out = append(out, s.Catalog.T(lang, p.Key, p.Args...))
	}
	return out
}

func (s *Server) assessItemSave(w http.ResponseWriter, r *http.Request, m *member) error {
	sh, e, err := s.loadSheet(r)
	if err != nil {
		return err
	}
	it := e.Item(r.PathValue("item"))
	if it == nil {
		return apperr.New(apperr.NotFound, "error.not_found")
	}
	f := r.PostForm
	var in []assess.Answer
	for _, c := range it.CellIDs() {
		a := assess.Answer{ItemID: it.ID, Cell: c, Answer1: f.Get("answer1." + c), Date1: f.Get("date1." + c), Target: f.Get("target." + c),
			Answer2: f.Get("answer2." + c), Date2: f.Get("date2." + c), Value: f.Get("value." + c), Comment: f.Get("comment." + c)}
		if it.Type == assess.TypeMulti {
			a.Value = it.NormalizeMulti(f["value."+c])
		}
		in = append(in, a)
	}
	if _, _, err := s.Assess.SaveAnswers(r.Context(), m.P, m.P.OrgID, sh.ID, in); err != nil {
		if rf := assessRefusal(m, err); rf != nil {
			return rf
		}
		return s.renderAssessItem(w, r, err, f)
	}
	to := "/assess/sheets/" + sh.ID
	if f.Get("next") != "" && e.Item(f.Get("next")) != nil {
		to += "/items/" + f.Get("next")
	} else {
		to += "#item-" + it.ID
	}
	s.flash(w, r, to, "flash.assess_saved")
	return nil
}

func (s *Server) assessEvidenceAdd(w http.ResponseWriter, r *http.Request, m *member) error {
	sh, _, err := s.loadSheet(r)
	if err != nil {
		return err
	}
	itemID := r.PathValue("item")
	in := assess.EvidenceInput{LinkType: r.PostForm.Get("link_type"), LinkRef: r.PostForm.Get("link_ref"), Note: r.PostForm.Get("note")}
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			f, err := fhs[0].Open()
			if err == nil {
				in.Data, err = io.ReadAll(io.LimitReader(f, assess.MaxFileSize+1))
				f.Close()
			}
			if err != nil {
				return s.renderAssessItem(w, r, err, nil)
			}
			in.Name = fhs[0].Filename
			in.LinkType, in.LinkRef = "", ""
		}
	}
	if in.LinkRef == "" && len(in.Data) == 0 {
		in.LinkType = ""
	}
	_, err = s.Assess.AddEvidence(r.Context(), m.P, m.P.OrgID, sh.ID, itemID, in)
	return s.assessDone(w, r, m, err, s.renderAssessItem, nil, "/assess/sheets/"+sh.ID+"/items/"+itemID+"#evidence", "flash.assess_evidence_added")
}

func (s *Server) assessEvidenceGet(w http.ResponseWriter, r *http.Request, m *member) error {
	f, data, err := s.Assess.EvidenceFile(r.Context(), m.P, m.P.OrgID, r.PathValue("id"), r.PathValue("ev"))
	if err != nil {
		return err
	}
	return sendFile(w, f.ContentType, "attachment; filename*=UTF-8''"+url.PathEscape(f.Name), data)
}

func (s *Server) assessEvidenceDelete(w http.ResponseWriter, r *http.Request, m *member) error {
	ev, err := s.Assess.DeleteEvidence(r.Context(), m.P, m.P.OrgID, r.PathValue("id"), r.PathValue("ev"))
	if err != nil {
		return assessFail(m, err)
	}
	s.flash(w, r, "/assess/sheets/"+ev.SheetID+"/items/"+ev.ItemID+"#evidence", "flash.assess_evidence_deleted")
	return nil
}

func (s *Server) assessHintDecide(w http.ResponseWriter, r *http.Request, m *member) error {
	sheetID, itemID, key, decision := r.PathValue("id"), r.PathValue("item"), r.PathValue("key"), r.PostForm.Get("decision")
	err := s.Assess.DecideHint(r.Context(), m.P, m.P.OrgID, sheetID, itemID, key, decision)
	return s.assessDone(w, r, m, err, s.renderAssessItem, nil, "/assess/sheets/"+sheetID+"/items/"+itemID, "flash.assess_hint_"+decision)
}

func (s *Server) assessSign(w http.ResponseWriter, r *http.Request, m *member) error {
	sh, _, err := s.Assess.Sign(r.Context(), m.P, m.P.OrgID, r.PathValue("id"), r.PostForm.Get("name"))
	if err != nil {
		return assessFail(m, err)
	}
	s.flash(w, r, "/assess/sheets/"+sh.ID, "flash.assess_signed")
	return nil
}

func (s *Server) assessReopen(w http.ResponseWriter, r *http.Request, m *member) error {
	id := r.PathValue("id")
	if _, _, err := s.Assess.Reopen(r.Context(), m.P, m.P.OrgID, id); err != nil {
		return assessFail(m, err)
	}
	s.flash(w, r, "/assess/sheets/"+id, "flash.assess_reopened")
	return nil
}

func (s *Server) assessReport(w http.ResponseWriter, r *http.Request, m *member) error {
	format := assess.FormatXLSX
	if strings.HasSuffix(r.URL.Path, ".pdf") {
		format = assess.FormatPDF
	}
	var buf bytes.Buffer
	sh, e, err := s.Assess.Export(r.Context(), m.P, m.P.OrgID, r.PathValue("id"), format, &buf)
	if err != nil {
		return err
	}
	ct := "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	if format == assess.FormatPDF {
		ct = "application/pdf"
	}
	return sendFile(w, ct, `attachment; filename="`+assess.ReportName(e, sh, format)+`"`, buf.Bytes())
}

type assessCompareView struct {
	assessHelpers
	Sheet   *assess.Sheet
	Edition *assess.Edition
	Prev    *assess.Sheet
	Rows    []assess.CompareRow
}

// CellLabel names a cell.
func (v assessCompareView) CellLabel(c string) string { return v.Edition.CellLabel(c) }

func (s *Server) assessCompare(w http.ResponseWriter, r *http.Request, m *member) error {
	ctx := r.Context()
	p := m.P
	sh, e, err := s.loadSheet(r)
	if err != nil {
		return err
	}
	prev, err := assess.Previous(ctx, s.DB, sh)
	if err != nil {
		return err
	}
	v := assessCompareView{Sheet: sh, Edition: e, Prev: prev}
	var pe *assess.Edition
	if prev != nil {
		if pe, err = s.assessRegistry().Get(ctx, s.DB, p.OrgID, prev.EditionID); err != nil {
			return err
		}
	}
	v.Rows = assess.Compare(e, sh, pe, prev)
	return s.view(w, r, "assess.compare.title", "assess_compare", v)
}
